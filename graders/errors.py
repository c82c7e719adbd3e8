"""Exit statuses, the errors whose message is for the user, and the one tuple of them.

A front end (the command line, a batch, an autograder, the notebook self-check) shows an
error of ``MESSAGE_ERRORS`` as its one-line message; anything else that escapes is a bug
of the grader's and is reported as one. The classes are defined here, not beside the
code that raises them, so that a front end needs this module only, and the modules that
raise them re-export them under their old names (``graders.spec.SpecError``, ...).
"""

from __future__ import annotations

from .sandbox import SandboxUnavailable

EXIT_OK, EXIT_SHORT, EXIT_UNUSABLE = 0, 1, 2  # all passed; graded, not full marks; not done


class CommandError(Exception):
    """The command cannot be carried out; the message is the one line the user sees."""


class SpecError(Exception):
    """A spec that cannot be used; the message names the file, the field and the line."""


class SubmissionError(Exception):
    """The hand-in cannot be read; the message is one line naming the file and the problem."""


class AssignmentError(Exception):
    """The notebook holds no handed-out exercise of any assignment: one line saying so."""


class ReferenceError(Exception):  # shadows the builtin, as graders.reference.ReferenceError has
    """The reference module or a spec expression is broken: an instructor's problem."""


class UsageError(Exception):
    """The request cannot be carried out (e.g. a typed answer for a code exercise)."""


class SetupError(Exception):
    """The grader's own setup did not run in the sandbox: a spec or installation problem."""


class ConfigurationError(Exception):
    """An autograder platform's side of the setup is wrong (a question naming no exercise)."""


MESSAGE_ERRORS: tuple[type[Exception], ...] = (
    CommandError,
    SpecError,
    SubmissionError,
    AssignmentError,
    ReferenceError,
    UsageError,
    SetupError,
    ConfigurationError,
    SandboxUnavailable,
)
