"""Fixtures for the imported-model gradient parity test (test/import.test.ts).

Run once with Debian's python3-torch and python3-torchvision (random weights,
nothing downloaded): /usr/bin/python3 scripts/make_import_fixtures.py

For each torchvision architecture, at reduced width so the files stay small,
it exports the model with torch.onnx.export (eval mode, or training mode where
named) and records what PyTorch autograd computes for one batch: the logits,
the cross-entropy loss and the gradient of every parameter. The batch is a
formula both sides evaluate (see batch() here and in the test), so no input
file is committed. Gradients are computed in float64 from the float32 weights. npm test needs no Python: only these files.
"""
import json
import math
import os
import struct
import sys

import torch
import torch.nn as nn
import torchvision
from torchvision.models import efficientnet, resnet, shufflenetv2

OUT = os.path.join(os.path.dirname(__file__), '..', 'test', 'fixtures', 'imported')
BATCH, SIZE, CLASSES = 2, 224, 10
LABELS = [1, 3]


def batch():
    n = BATCH * 3 * SIZE * SIZE
    flat = torch.tensor([math.sin(0.37 * i + 0.1) * 0.5 for i in range(n)], dtype=torch.float64)
    return flat.to(torch.float32).reshape(BATCH, 3, SIZE, SIZE)


class SmallResNet(nn.Module):
    """resnet18's topology (stem, four stages of BasicBlocks, global pool, fc) at 1/8 width and one block a stage."""

    def __init__(self, widths=(8, 16, 32, 64), num_classes=CLASSES):
        super().__init__()
        self.conv1 = nn.Conv2d(3, widths[0], 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        layers, inplanes = [], widths[0]
        for i, w in enumerate(widths):
            stride = 1 if i == 0 else 2
            down = None
            if stride != 1 or inplanes != w:
                down = nn.Sequential(nn.Conv2d(inplanes, w, 1, stride, bias=False), nn.BatchNorm2d(w))
            layers.append(resnet.BasicBlock(inplanes, w, stride, down))
            inplanes = w
        self.layers = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(inplanes, num_classes)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        return self.fc(torch.flatten(self.avgpool(self.layers(x)), 1))


def squeezenet1_1_small():
    """squeezenet1_1's layout (ceil-mode max pools, Fire modules, a 1x1 conv classifier) at a quarter of its channels."""
    from torchvision.models.squeezenet import Fire
    model = torchvision.models.squeezenet1_1(num_classes=CLASSES)
    model.features = nn.Sequential(
        nn.Conv2d(3, 16, 3, 2), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2, ceil_mode=True),
        Fire(16, 4, 16, 16), Fire(32, 4, 16, 16), nn.MaxPool2d(3, 2, ceil_mode=True),
        Fire(32, 8, 32, 32), Fire(64, 8, 32, 32), nn.MaxPool2d(3, 2, ceil_mode=True),
        Fire(64, 12, 48, 48), Fire(96, 12, 48, 48), Fire(96, 16, 64, 64), Fire(128, 16, 64, 64))
    model.classifier[1] = nn.Conv2d(128, CLASSES, 1)
    nn.init.normal_(model.classifier[1].weight, 0.0, 0.01)
    return model


def efficientnet_b0_small():
    setting, last = efficientnet._efficientnet_conf('efficientnet_b0', width_mult=0.25, depth_mult=0.25)
    return efficientnet.EfficientNet(setting, 0.2, last_channel=last, num_classes=CLASSES)


ARCHS = {
    # name: (constructor, opset, training-mode export)
    'resnet18': (lambda: SmallResNet(), 11, False),
    'resnet18_train': (lambda: SmallResNet(), 15, True),
    'mobilenet_v2': (lambda: torchvision.models.mobilenet_v2(width_mult=0.25, num_classes=CLASSES), 13, False),
    'mobilenet_v3_small': (lambda: torchvision.models.mobilenet_v3_small(width_mult=0.25, num_classes=CLASSES), 17, False),
    'efficientnet_b0': (efficientnet_b0_small, 17, False),
    'shufflenet_v2_x1_0': (lambda: shufflenetv2.ShuffleNetV2([2, 2, 2], [8, 16, 32, 64, 128], num_classes=CLASSES), 12, False),
    'squeezenet1_1': (squeezenet1_1_small, 16, False),
}


def calibrate(model, x):
    """Running statistics from the batch, as a trained model would have them: with torchvision's
    fresh statistics (mean 0, variance 1) the deeper eval-mode models' activations vanish
    (efficientnet's features average 1e-11), and every gradient but the classifier's with them.
    Scales and shifts get a little spread so their gradients differ per channel."""
    gen = torch.Generator().manual_seed(2)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.reset_running_stats()
            m.momentum = None  # a plain average over the calibration passes
            with torch.no_grad():
                m.weight.copy_(1 + 0.2 * torch.randn(m.weight.shape, generator=gen))
                m.bias.copy_(0.1 * torch.randn(m.bias.shape, generator=gen))
    model.train()
    with torch.no_grad():
        # Another batch than the one the gradients are taken on: statistics of that very batch
        # make the eval-mode gradients ill-conditioned (PyTorch's own float32 gradients then
        # differ from its float64 ones by up to 5% of the largest).
        model(torch.randn(8, *x.shape[1:], generator=gen) * 0.5)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.momentum = 0.1  # PyTorch's default again: the export writes ONNX's momentum = 1 - 0.1
    model.eval()


def write_safetensors(path, tensors):
    header, offset, blobs = {}, 0, []
    for name in sorted(tensors):
        data = tensors[name].detach().to(torch.float32).contiguous().numpy().tobytes()
        header[name] = {'dtype': 'F32', 'shape': list(tensors[name].shape), 'data_offsets': [offset, offset + len(data)]}
        offset += len(data)
        blobs.append(data)
    text = json.dumps(header, separators=(',', ':')).encode()
    text += b' ' * ((8 - len(text) % 8) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)


def main():
    torch.manual_seed(0)
    x = batch()
    labels = torch.tensor(LABELS)
    only = sys.argv[1:]
    for name, (make, opset, training) in ARCHS.items():
        if only and name not in only:
            continue
        torch.manual_seed(1)
        model = make()
        # Dropout stays out of the comparison: identity in eval mode, and p = 0 for the training-mode export.
        for m in model.modules():
            if isinstance(m, nn.Dropout):
                m.p = 0.0
        if not training:
            calibrate(model, x)
        model.train(training)
        folder = os.path.join(OUT, name)
        os.makedirs(folder, exist_ok=True)
        # PRESERVE, not EVAL, for eval-mode models: EVAL fuses batch norm into the convolutions, renaming and changing the parameters.
        mode = torch.onnx.TrainingMode.TRAINING if training else torch.onnx.TrainingMode.PRESERVE
        # Training-mode export updates the running statistics: export a copy, so the gradients below see the initial model.
        import copy
        exported = copy.deepcopy(model)
        torch.onnx.export(exported, x, os.path.join(folder, 'model.onnx'), opset_version=opset, training=mode,
                          do_constant_folding=False, input_names=['image'], output_names=['logits'],
                          dynamic_axes={'image': {0: 'batch'}, 'logits': {0: 'batch'}})
        # The reference is autograd in float64 on the same float32 weights and batch, so it carries no
        # float32 rounding of its own (PyTorch's float32 gradients of the training-mode resnet differ
        # from float64 by up to 1e-4 of the largest).
        model = model.double()
        logits = model(x.double())
        loss = nn.functional.cross_entropy(logits, labels)
        model.zero_grad()
        loss.backward()
        grads = {f'grad:{n}': p.grad for n, p in model.named_parameters()}
        grads['logits'] = logits.detach()
        write_safetensors(os.path.join(folder, 'expected.safetensors'), grads)
        with open(os.path.join(folder, 'info.json'), 'w') as f:
            json.dump({'loss': loss.item(), 'opset': opset, 'training': training, 'labels': LABELS, 'torch': torch.__version__,
                       'torchvision': torchvision.__version__, 'parameters': sum(p.numel() for p in model.parameters())}, f, indent=1)
        print(f'{name}: {sum(p.numel() for p in model.parameters())} parameters, loss {loss.item():.6f}')


if __name__ == '__main__':
    main()
