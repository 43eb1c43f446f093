"""Entry point of the packaged app (PyInstaller). One executable, two roles:
``cnsight`` (the app) and, when called as ``cnsight predict ...``, the batch predictor, so IT
installs one folder that also serves scripted use."""

import multiprocessing
import sys

if __name__ == "__main__":
    multiprocessing.freeze_support()  # first: PyInstaller + torch DataLoader workers need it
    if len(sys.argv) > 1 and sys.argv[1] == "predict":
        from core.cli.predict import main as predict_main

        sys.exit(predict_main(sys.argv[2:]))
    from desktop.app import main

    sys.exit(main())
