#!/usr/bin/python3
"""Trains the bundled deep model: a small ResNet with BatchNorm and a depthwise-separable block on
Fashion-MNIST, then fine-tunes a copy hardware-aware (through tessera's PCM tiles with weight
noise, aihwkit's recipe) and exports both.

Run with Debian's interpreter, tessera importable for the fine-tuning (PYTHONPATH=build/python):
    /usr/bin/python3 scripts/train_fashion_mnist_resnet.py [--epochs 4] [--hwa-epochs 1]

Writes to examples/fashion_mnist_resnet/:
  fmnist_resnet.onnx            the float model (opset 13; input "input" [N, 1, 28, 28], output
                                "logits"); BatchNormalization nodes are kept, as aihwkit keeps
                                them digital next to analog convolutions
  fmnist_resnet_hwa.onnx        the same network after hardware-aware fine-tuning
  torch_predictions.txt         torch's argmax per test image for the float model (as for the CNN)
  training_log.txt              what each epoch reached
Deterministic: fixed seeds, one thread (about a minute per float epoch, 7 minutes for the
hardware-aware one).
"""
import argparse
import os
import sys

import torch
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from train_fashion_mnist import load  # noqa: E402  (same data and normalisation as the CNN)

# aihwkit's hardware-aware training recipe (Rasch et al. 2023): on PCM tiles with their output
# noise, each column's weights mapped to max |w| = 1 (columnwise weight scaling, the factor
# applied digitally) and Gaussian weight noise of this std added in every forward pass.
HWA_WEIGHT_NOISE = 0.08


class BasicBlock(nn.Module):
    """ResNet's basic block: two 3x3 convolutions with BatchNorm and an identity or 1x1 shortcut."""

    def __init__(self, channels_in, channels_out, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(channels_in, channels_out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels_out)
        self.conv2 = nn.Conv2d(channels_out, channels_out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels_out)
        self.relu = nn.ReLU()
        self.shortcut = nn.Sequential()
        if stride != 1 or channels_in != channels_out:
            self.shortcut = nn.Sequential(nn.Conv2d(channels_in, channels_out, 1, stride, bias=False),
                                          nn.BatchNorm2d(channels_out))

    def forward(self, x):
        y = self.relu(self.bn1(self.conv1(x)))
        return self.relu(self.bn2(self.conv2(y)) + self.shortcut(x))


class SeparableBlock(nn.Module):
    """MobileNet's depthwise-separable block: a 3x3 depthwise and a 1x1 pointwise convolution,
    each followed by BatchNorm and ReLU6."""

    def __init__(self, channels_in, channels_out, stride=1):
        super().__init__()
        self.depthwise = nn.Conv2d(channels_in, channels_in, 3, stride, 1, groups=channels_in, bias=False)
        self.bn1 = nn.BatchNorm2d(channels_in)
        self.pointwise = nn.Conv2d(channels_in, channels_out, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels_out)
        self.relu6 = nn.ReLU6()

    def forward(self, x):
        return self.relu6(self.bn2(self.pointwise(self.relu6(self.bn1(self.depthwise(x))))))


class FashionResNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, 16, 3, 1, 1, bias=False), nn.BatchNorm2d(16), nn.ReLU())
        self.layer1 = BasicBlock(16, 16)
        self.layer2 = BasicBlock(16, 32, stride=2)
        self.layer3 = SeparableBlock(32, 64, stride=2)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(64, 10)

    def forward(self, x):
        x = self.layer3(self.layer2(self.layer1(self.stem(x))))
        return self.fc(torch.flatten(self.pool(x), 1))


def train(model, images, labels, epochs, lr, seed, log, name):
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, epochs * ((len(images) + 127) // 128))
    generator = torch.Generator().manual_seed(seed)
    for epoch in range(epochs):
        model.train()
        for batch in torch.randperm(len(images), generator=generator).split(128):
            optimizer.zero_grad()
            loss = nn.functional.cross_entropy(model(images[batch]), labels[batch])
            loss.backward()
            optimizer.step()
            schedule.step()
        log(f"{name} epoch {epoch + 1}: last batch loss {loss.item():.4f}")
    return model.eval()


def predict(model, images):
    with torch.no_grad():
        return torch.cat([model(images[i:i + 1000]).argmax(1) for i in range(0, len(images), 1000)])


def export(model, example, path):
    # PRESERVE keeps BatchNormalization nodes (EVAL would fold them into the convolutions).
    torch.onnx.export(model, example, path, opset_version=13, input_names=["input"], output_names=["logits"],
                      dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}},
                      training=torch.onnx.TrainingMode.PRESERVE, do_constant_folding=False)


def hardware_aware_copy(model, images, labels, epochs, log):
    """aihwkit's recipe: convert to analog, train through the tiles with weight noise injected,
    then copy the weights (and BatchNorm statistics) back into a float twin."""
    import tessera
    from tessera.torch import convert_to_analog
    rpu = tessera.load_preset("pcm_inference")
    rpu.mapping.weight_scaling_omega = 1.0
    rpu.mapping.weight_scaling_columnwise = True
    rpu.modifier.type = "ADD_NORMAL"
    rpu.modifier.std_dev = HWA_WEIGHT_NOISE
    analog = convert_to_analog(model, rpu, seed=0)
    train(analog, images, labels, epochs, 5e-4, 1, log, "hardware-aware")
    twin = FashionResNet()
    twin.load_state_dict({k: v.detach() for k, v in analog.state_dict().items()})
    return twin.eval()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--hwa-epochs", type=int, default=1, help="0 skips the hardware-aware copy")
    parser.add_argument("--out", default="examples/fashion_mnist_resnet")
    args = parser.parse_args()
    torch.manual_seed(0)
    torch.set_num_threads(1)
    train_x, train_y = load("train")
    test_x, test_y = load("test")
    os.makedirs(args.out, exist_ok=True)
    lines = []

    def log(line):
        print(line, flush=True)
        lines.append(line)

    model = train(FashionResNet(), train_x, train_y, args.epochs, 3e-3, 0, log, "float")
    predictions = predict(model, test_x)
    accuracy = (predictions == test_y).float().mean().item()
    log(f"float test accuracy {accuracy:.4f}")
    export(model, test_x[:1], os.path.join(args.out, "fmnist_resnet.onnx"))
    with open(os.path.join(args.out, "torch_predictions.txt"), "w") as f:
        f.write(f"# torch {torch.__version__} argmax per test image; accuracy {accuracy:.4f}\n")
        f.write(f"accuracy {accuracy:.6f}\n")
        f.write(" ".join(str(int(p)) for p in predictions) + "\n")
    if args.hwa_epochs > 0:
        tuned = hardware_aware_copy(model, train_x, train_y, args.hwa_epochs, log)
        log(f"hardware-aware copy, float test accuracy {(predict(tuned, test_x) == test_y).float().mean():.4f}")
        export(tuned, test_x[:1], os.path.join(args.out, "fmnist_resnet_hwa.onnx"))
    with open(os.path.join(args.out, "training_log.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
