"""The bundled W0D4 course, as an installed wheel carries it: ``exercises/`` and
``reference/`` from the top of the repository (see pyproject.toml's package-dir). In a
source checkout or an editable install this folder stays empty and the course is the
repository's top folder (``graders.spec.DEFAULT_COURSE``)."""
