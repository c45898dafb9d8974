"""Inference of fitted models in plain NumPy, for the service's start-up path.

Why a package of its own: what the service serves is trained with LightGBM and
scikit-learn, and importing them costs more CPU than the rest of a service start
(LightGBM imports scikit-learn whenever it is installed). Scoring needs only
the fitted numbers, so the pieces here read them (or a NumPy form saved next to
them) and compute the same outputs. Shared by several areas (the behaviour and
risk models both serve LightGBM boosters), so it lives beside them rather than
in one of them; each piece is tested for equality against the library it stands
in for on real data rows.
"""
