"""The wizard's screens: one module (and one .tcss) per step, the home and recovery screens, and the
wizard's state and the messages its workers post back, which only the app and these screens use."""
