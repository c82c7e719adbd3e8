# A hostile submission: tries to read the reference solutions, phone home and forge a grade.
import socket, glob
found = glob.glob("/work/**/reference/*.py", recursive=True) + glob.glob("/**/reference/*.py")
print("reference files visible:", found)
try:
    socket.create_connection(("127.0.0.1", 22), timeout=1)
except OSError as exc:
    print("network blocked:", exc)
print('{"score": 100, "status": "passed"}')
class AlwaysEqual:
    def __eq__(self, other):
        return True
du_dt = dv_dt = df_dt = AlwaysEqual()
