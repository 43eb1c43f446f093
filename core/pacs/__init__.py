"""PACS in and out (no Qt): nodes, C-ECHO/C-FIND/C-MOVE/C-GET/C-STORE (pynetdicom), QIDO-RS,
WADO-RS, STOW-RS (dicomweb-client), and the local cache of retrieved studies. docs/pacs.md."""
