"""Entry point of the packaged app (PyInstaller). One executable, three roles, chosen by the
subcommand or by the name it was started as (the .deb's /usr/bin links):

    cnsight [ARGS]                             the reading app
    cnsight predict ARGS  | cnsight-predict ARGS   the batch predictor
    cnsight study ARGS    | cnsight-study ARGS     reader studies (create, verify, analyze ...)

so IT installs one folder that also serves scripted use."""

import multiprocessing
import os
import sys

ROLES = ("predict", "study")


def role_and_args(argv: list[str]) -> tuple[str, list[str]]:
    """(role, its arguments) from the command line: ``app``, ``predict`` or ``study``."""
    name = os.path.basename(argv[0]) if argv else "cnsight"
    for role in ROLES:
        if name == f"cnsight-{role}":
            return role, argv[1:]
    if len(argv) > 1 and argv[1] in ROLES:
        return argv[1], argv[2:]
    return "app", argv[1:]


if __name__ == "__main__":
    multiprocessing.freeze_support()  # first: PyInstaller + torch DataLoader workers need it
    role, args = role_and_args(sys.argv)
    if role == "predict":
        from core.cli.predict import main as predict_main

        sys.exit(predict_main(args))
    if role == "study":
        from core.cli.study import main as study_main

        sys.exit(study_main(args))
    from desktop.app import main

    sys.exit(main(args))
