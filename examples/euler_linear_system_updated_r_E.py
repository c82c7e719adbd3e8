def Euler_Simple_Linear_System(t, dt):
  tau_E = 100
  tau_I = 120
  n = len(t)
  r_I = np.zeros(n)
  r_I[0] = 20
  r_E = np.zeros(n)
  r_E[0] = 30

  # Loop over time steps
  for k in range(n-1):

    # Estimate r_e
    dr_E = -r_I[k]/tau_E
    r_E[k+1] = r_E[k] + dt*dr_E

    # Estimate r_i
    dr_I = r_E[k+1]/tau_I
    r_I[k+1] = r_I[k] + dt*dr_I

  return r_E, r_I
