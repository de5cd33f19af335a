"""The wizard's screens: one module (and one .tcss) per step, plus the recovery screen."""
