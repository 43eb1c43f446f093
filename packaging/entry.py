"""Entry point of the packaged app (PyInstaller). One executable, three roles:
``cnsight`` (the app), ``cnsight predict ...`` (the batch predictor) and ``cnsight study ...``
(reader-study analysis), so IT installs one folder that also serves scripted use."""

import multiprocessing
import sys

if __name__ == "__main__":
    multiprocessing.freeze_support()  # first: PyInstaller + torch DataLoader workers need it
    if len(sys.argv) > 1 and sys.argv[1] == "predict":
        from core.cli.predict import main as predict_main

        sys.exit(predict_main(sys.argv[2:]))
    if len(sys.argv) > 1 and sys.argv[1] == "study":
        from core.cli.study import main as study_main

        sys.exit(study_main(sys.argv[2:]))
    from desktop.app import main

    sys.exit(main())
