"""A full-size MobileNetV2 (torchvision's architecture, 3.5 M parameters,
random weights: nothing is downloaded here) as ONNX, for npm run
bench:page-load's imported-model row:

  /usr/bin/python3 bench/export_mobilenet.py OUT.onnx
"""
import sys

import torch
import torchvision

model = torchvision.models.mobilenet_v2().eval()
x = torch.zeros(1, 3, 224, 224)
torch.onnx.export(model, x, sys.argv[1], opset_version=13, do_constant_folding=True,
                  input_names=['image'], output_names=['logits'],
                  dynamic_axes={'image': {0: 'batch'}, 'logits': {0: 'batch'}})
print(sum(p.numel() for p in model.parameters()))
