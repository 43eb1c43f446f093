"""Echo levels of tissues (linear amplitude; a bone surface facing the beam = 1).

Log compression maps a window of about 60 dB to black..white, so these levels are spread over
that window as on a real scanner: fluid below it (black), fetal brain low (dark grey), soft
tissue mid-grey, membranes and choroid plexus bright, bone saturating.
"""

FLUID = 0.0002  # amniotic fluid, CSF (-74 dB)
BRAIN = 0.006  # fetal brain parenchyma is hypoechoic (-44 dB)
THALAMUS = 0.0014
SOFT = 0.018  # skin, scalp, fetal body wall, maternal tissue (-35 dB)
MEMBRANE = 0.05  # thin walls: septum, cyst walls, sac walls, fascia
FALX = 0.07
CHOROID = 0.14
CEREBELLUM_RIM = 0.035
VERMIS = 0.05
BONE = 1.0
BONE_ATTENUATION = 0.5  # per mm of fully ossified bone (amplitude, natural log units)
