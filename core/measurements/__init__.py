"""Measurements on ultrasound images in physical units: calibration from the DICOM header,
distances and ellipses, fetal head biometry with the gestational age it implies, and the
sidecar file that keeps a study's measurements. Plain Python and numpy, no Qt: the app draws
and edits, this package measures."""
