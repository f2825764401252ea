"""MedVision model factory: training, calibration, evaluation, ONNX export, packaging and signing."""
