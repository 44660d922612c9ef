"""Face-recognition backbones in the layouts their published weights come in: insightface
arcface_torch's IResNet (:class:`IResNet`, ``backbone.pth``) and AdaFace's IR network
(:class:`IRNet`, the ``model.`` part of its ``.ckpt``). Both are the same network: a 3x3 stem,
four stages of pre-activation residual units (widths 64, 128, 256, 512; the first unit of each
halves the resolution) and a linear layer over the last ``512 x 7 x 7`` feature map,
average-pooled to 7x7 first (the identity at 112 px, so that the network also runs at other
sizes). Both take aligned faces ``[B, 3, 112, 112]`` normalised as (x - 0.5) / 0.5 and give
features ``[B, 512]``, not normalised.
"""

from torch import nn

WIDTHS = (64, 128, 256, 512)
STAGE_UNITS = {50: (3, 4, 14, 3), 100: (3, 13, 30, 3)}  # residual units per stage, by depth
FEATURES = 512


def _residual(c_in: int, c_out: int, stride: int) -> list[nn.Module]:
    """A unit's residual branch ``[B, c_in, H, W] -> [B, c_out, H / stride, W / stride]``:
    BN, conv 3x3, BN, PReLU, conv 3x3 (with the stride), BN."""
    return [
        nn.BatchNorm2d(c_in),
        nn.Conv2d(c_in, c_out, 3, 1, 1, bias=False),
        nn.BatchNorm2d(c_out),
        nn.PReLU(c_out),
        nn.Conv2d(c_out, c_out, 3, stride, 1, bias=False),
        nn.BatchNorm2d(c_out),
    ]


def _projection(c_in: int, c_out: int, stride: int) -> nn.Sequential:
    """A shortcut that changes width or resolution: conv 1x1 (with the stride), BN."""
    return nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out))


def _units(depth: int, unit: type) -> list[list[nn.Module]]:
    """The residual units of each stage of a network of ``depth`` layers."""
    stages, c_in = [], WIDTHS[0]
    for width, count in zip(WIDTHS, STAGE_UNITS[depth]):
        stages.append(
            [unit(c_in if i == 0 else width, width, 2 if i == 0 else 1) for i in range(count)]
        )
        c_in = width
    return stages


class IBasicBlock(nn.Module):
    """arcface_torch's unit, ``[B, c_in, H, W] -> [B, c_out, H / stride, W / stride]``; its
    shortcut is projected (``downsample``) whenever width or resolution changes."""

    def __init__(self, c_in: int, c_out: int, stride: int):
        super().__init__()
        self.bn1, self.conv1, self.bn2, self.prelu, self.conv2, self.bn3 = _residual(
            c_in, c_out, stride
        )
        self.downsample = _projection(c_in, c_out, stride) if stride != 1 or c_in != c_out else None

    def forward(self, x):
        out = self.bn3(self.conv2(self.prelu(self.bn2(self.conv1(self.bn1(x))))))
        return out + (x if self.downsample is None else self.downsample(x))


class BasicBlockIR(nn.Module):
    """AdaFace's unit, ``[B, c_in, H, W] -> [B, c_out, H / stride, W / stride]``; at equal widths
    its shortcut only subsamples (a 1x1 max-pool with the stride, no weights)."""

    def __init__(self, c_in: int, c_out: int, stride: int):
        super().__init__()
        same = c_in == c_out
        self.shortcut_layer = nn.MaxPool2d(1, stride) if same else _projection(c_in, c_out, stride)
        self.res_layer = nn.Sequential(*_residual(c_in, c_out, stride))

    def forward(self, x):
        return self.res_layer(x) + self.shortcut_layer(x)


class IResNet(nn.Module):
    """arcface_torch's IResNet: ``[B, 3, 112, 112] -> [B, 512]``, ending in BN, flatten, linear
    ``512 * 7 * 7 -> 512`` (``fc``) and BatchNorm1d (``features``, its scale fixed at 1)."""

    def __init__(self, depth: int):
        super().__init__()
        self.conv1 = nn.Conv2d(3, WIDTHS[0], 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(WIDTHS[0])
        self.prelu = nn.PReLU(WIDTHS[0])
        for k, units in enumerate(_units(depth, IBasicBlock), 1):
            setattr(self, f"layer{k}", nn.Sequential(*units))
        self.bn2 = nn.BatchNorm2d(WIDTHS[-1])
        self.pool = nn.AdaptiveAvgPool2d(7)
        self.fc = nn.Linear(WIDTHS[-1] * 7 * 7, FEATURES)
        self.features = nn.BatchNorm1d(FEATURES)
        self.features.weight.requires_grad_(False)

    def forward(self, x):
        x = self.prelu(self.bn1(self.conv1(x)))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.features(self.fc(self.pool(self.bn2(x)).flatten(1)))


class IRNet(nn.Module):
    """AdaFace's IR network: ``[B, 3, 112, 112] -> [B, 512]``; ``output_layer``: BN, dropout 0.4,
    flatten, linear ``512 * 7 * 7 -> 512``, BatchNorm1d without affine parameters. (AdaFace's
    own forward also divides by the norm and returns it; this one stops before.)"""

    def __init__(self, depth: int):
        super().__init__()
        width = WIDTHS[0]
        self.input_layer = nn.Sequential(
            nn.Conv2d(3, width, 3, 1, 1, bias=False), nn.BatchNorm2d(width), nn.PReLU(width)
        )
        self.body = nn.Sequential(*(u for units in _units(depth, BasicBlockIR) for u in units))
        self.pool = nn.AdaptiveAvgPool2d(7)
        self.output_layer = nn.Sequential(
            nn.BatchNorm2d(WIDTHS[-1]),
            nn.Dropout(0.4),
            nn.Flatten(),
            nn.Linear(WIDTHS[-1] * 7 * 7, FEATURES),
            nn.BatchNorm1d(FEATURES, affine=False),
        )

    def forward(self, x):
        return self.output_layer(self.pool(self.body(self.input_layer(x))))
