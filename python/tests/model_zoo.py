"""Six ordinary torch architectures, small enough for tests: what a new user brings to tessera.

Each entry builds a model in eval mode with non-trivial BatchNorm statistics and an example
input. The names are the ones the conversion tests and the model-zoo benchmark use.
"""
import torch
from torch import nn


class BasicBlock(nn.Module):
    """ResNet-18's block: two 3x3 convs with BatchNorm, a residual add, an optional 1x1 downsample."""

    def __init__(self, in_channels, out_channels, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU()
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.downsample = None
        if stride != 1 or in_channels != out_channels:
            self.downsample = nn.Sequential(nn.Conv2d(in_channels, out_channels, 1, stride, bias=False),
                                            nn.BatchNorm2d(out_channels))

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        y = self.relu(self.bn1(self.conv1(x)))
        return self.relu(self.bn2(self.conv2(y)) + identity)


class ResNetSmall(nn.Module):
    def __init__(self, classes=10, width=8):
        super().__init__()
        self.conv1 = nn.Conv2d(1, width, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU()
        self.maxpool = nn.MaxPool2d(2)
        self.layer1 = nn.Sequential(BasicBlock(width, width), BasicBlock(width, width))
        self.layer2 = nn.Sequential(BasicBlock(width, 2 * width, stride=2), BasicBlock(2 * width, 2 * width))
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(2 * width, classes)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer2(self.layer1(x))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def _conv_bn(in_channels, out_channels, kernel, stride=1, groups=1, activation=nn.ReLU6):
    return nn.Sequential(nn.Conv2d(in_channels, out_channels, kernel, stride, kernel // 2, groups=groups, bias=False),
                         nn.BatchNorm2d(out_channels), activation())


class InvertedResidual(nn.Module):
    """MobileNetV2's block: 1x1 expand, 3x3 depthwise, 1x1 project, a residual when shapes allow."""

    def __init__(self, channels, expand, out_channels, stride):
        super().__init__()
        hidden = channels * expand
        self.use_residual = stride == 1 and channels == out_channels
        self.conv = nn.Sequential(_conv_bn(channels, hidden, 1), _conv_bn(hidden, hidden, 3, stride, groups=hidden),
                                  nn.Conv2d(hidden, out_channels, 1, bias=False), nn.BatchNorm2d(out_channels))

    def forward(self, x):
        return x + self.conv(x) if self.use_residual else self.conv(x)


class MobileNetSmall(nn.Module):
    def __init__(self, classes=10):
        super().__init__()
        self.features = nn.Sequential(_conv_bn(1, 8, 3, 2), InvertedResidual(8, 2, 8, 1), InvertedResidual(8, 2, 16, 2),
                                      _conv_bn(16, 32, 1, activation=nn.Hardswish))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(32, classes))

    def forward(self, x):
        return self.classifier(torch.flatten(self.pool(self.features(x)), 1))


class LSTMClassifier(nn.Module):
    """Token ids -> Embedding -> 2-layer LSTM -> the last step's hidden state -> Linear."""

    def __init__(self, vocabulary=50, classes=4):
        super().__init__()
        self.embedding = nn.Embedding(vocabulary, 12)
        self.lstm = nn.LSTM(12, 16, num_layers=2, batch_first=True)
        self.fc = nn.Linear(16, classes)

    def forward(self, tokens):
        output, _ = self.lstm(self.embedding(tokens))
        return self.fc(output[:, -1])


class TransformerClassifier(nn.Module):
    """Features -> Linear -> nn.TransformerEncoder (batch first, so torch's fused fast path
    applies in eval mode) -> mean over the sequence -> Linear."""

    def __init__(self, features=6, d_model=16, classes=3):
        super().__init__()
        self.embed = nn.Linear(features, d_model)
        layer = nn.TransformerEncoderLayer(d_model, nhead=2, dim_feedforward=32, dropout=0.0, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, num_layers=2)
        self.head = nn.Linear(d_model, classes)

    def forward(self, x):
        return self.head(self.encoder(self.embed(x)).mean(1))


class CNN1d(nn.Module):
    def __init__(self, channels=2, classes=5):
        super().__init__()
        self.features = nn.Sequential(nn.Conv1d(channels, 8, 5, padding=2), nn.BatchNorm1d(8), nn.ReLU(),
                                      nn.MaxPool1d(2), nn.Conv1d(8, 16, 3, padding=1), nn.BatchNorm1d(16), nn.ReLU(),
                                      nn.AdaptiveAvgPool1d(1))
        self.fc = nn.Linear(16, classes)

    def forward(self, x):
        return self.fc(torch.flatten(self.features(x), 1))


def _mlp():
    return nn.Sequential(nn.Flatten(), nn.Linear(20, 32), nn.ReLU(), nn.Linear(32, 16), nn.ReLU(), nn.Linear(16, 4))


def _randomise_batch_norms(model, generator):
    """Trained BatchNorms hold statistics far from (0, 1); fresh ones would hide folding errors."""
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.modules.batchnorm._BatchNorm):
                size = module.num_features
                module.running_mean.copy_(torch.randn(size, generator=generator) * 0.3)
                module.running_var.copy_(torch.rand(size, generator=generator) * 1.5 + 0.3)
                module.weight.copy_(torch.rand(size, generator=generator) + 0.5)
                module.bias.copy_(torch.randn(size, generator=generator) * 0.2)
    return model


# name -> (builder, example input builder given a batch size and a generator)
ZOO = {
    "resnet": (ResNetSmall, lambda n, g: torch.randn(n, 1, 16, 16, generator=g)),
    "mobilenet": (MobileNetSmall, lambda n, g: torch.randn(n, 1, 16, 16, generator=g)),
    "lstm": (LSTMClassifier, lambda n, g: torch.randint(0, 50, (n, 7), generator=g)),
    "transformer": (TransformerClassifier, lambda n, g: torch.randn(n, 5, 6, generator=g)),
    "cnn1d": (CNN1d, lambda n, g: torch.randn(n, 2, 24, generator=g)),
    "mlp": (_mlp, lambda n, g: torch.randn(n, 20, generator=g)),
}


def build(name, batch=4, seed=0):
    """(model in eval mode, example input) for one architecture of the zoo."""
    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    builder, make_input = ZOO[name]
    model = _randomise_batch_norms(builder(), generator).eval()
    return model, make_input(batch, generator)
