#!/usr/bin/env python3
"""Writes examples/sample.pt, the small checkpoint the README's first command loads.

Run with Debian's interpreter (real torch 1.13): /usr/bin/python3 examples/make_sample.py
A tiny MLP's state_dict with an optimizer state and training metadata, the shape of an
ordinary training checkpoint. Deterministic: fixed seed, fixed content.
"""
import collections
import os
import sys

import torch

torch.manual_seed(0)
model = torch.nn.Sequential(
    collections.OrderedDict(
        [("fc1", torch.nn.Linear(4, 8)), ("act", torch.nn.ReLU()), ("fc2", torch.nn.Linear(8, 2))]
    )
)
opt = torch.optim.Adam(model.parameters(), lr=1e-3)
loss = model(torch.randn(3, 4)).pow(2).sum()
loss.backward()
opt.step()
checkpoint = {
    "epoch": 3,
    "model": model.state_dict(),
    "optimizer": opt.state_dict(),
    "embedding": torch.randn(5, 3).half(),
    "note": "ptload sample checkpoint",
}
out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "sample.pt")
torch.save(checkpoint, out)
print("wrote", out, os.path.getsize(out), "bytes", file=sys.stderr)
