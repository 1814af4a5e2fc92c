#!/usr/bin/env python3
"""PyTorch baseline for bench/models.ts (Debian python3-torch / python3-torchvision; never a
dependency of tailor).

modes:
  features IMAGES_DIR THREADS BATCH [MODEL SIZE]
                                      torchvision mobilenet_v2 at 224 (or inception_v3 at 299), random
                                      weights, JPEG decode (PIL) + scale to [0,1] + features + global
                                      average, like precompute
  head ROWS DIM LABELS HIDDEN BATCH EPOCHS THREADS
                                      a dense head (DIM->HIDDEN relu, dropout 0.5 ->LABELS), BCE with
                                      logits, Adam, on random data, like train-head
Prints one JSON line: the rate and the peak resident memory of this process.
"""
import json
import os
import resource
import sys
import time

import numpy as np
import torch
import torchvision
from PIL import Image


def peak_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def backbone(name):
    if name == 'inception_v3':
        net = torchvision.models.inception_v3(weights=None, aux_logits=False)
        net.fc = torch.nn.Identity()  # up to the global average pool: the 2048 features
        return net.eval(), lambda x: net(x)
    net = torchvision.models.mobilenet_v2(weights=None).eval()
    return net, lambda x: net.features(x).mean((2, 3))


def features(images_dir, threads, batch, name='mobilenet_v2', size=224):
    torch.set_num_threads(threads)
    files = sorted(os.path.join(images_dir, f) for f in os.listdir(images_dir) if f.endswith('.jpg'))
    _, run = backbone(name)
    with torch.no_grad():
        run(torch.zeros(1, 3, size, size))  # warm-up, as tfjs compiles its kernels on first use
        start = time.time()
        done = 0
        for at in range(0, len(files), batch):
            arrays = []
            for f in files[at:at + batch]:
                img = Image.open(f).convert('RGB')
                if img.size != (size, size):
                    img = img.resize((size, size))
                arrays.append(np.asarray(img, dtype=np.float32) / 255.0)
            x = torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).contiguous()
            feats = run(x)
            done += feats.shape[0]
        seconds = time.time() - start
    return {'model': name, 'images': done, 'seconds': seconds, 'images_per_s': done / seconds, 'threads': threads, 'peak_rss_mb': peak_mb()}


def head(rows, dim, labels, hidden, batch, epochs, threads):
    torch.set_num_threads(threads)
    g = torch.Generator().manual_seed(0)
    x = torch.rand(rows, dim, generator=g)
    y = (torch.rand(rows, labels, generator=g) < 0.03).float()
    net = torch.nn.Sequential(torch.nn.Linear(dim, hidden), torch.nn.ReLU(), torch.nn.Dropout(0.5), torch.nn.Linear(hidden, labels))
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    start = time.time()
    for _ in range(epochs):
        perm = torch.randperm(rows, generator=g)
        for at in range(0, rows, batch):
            idx = perm[at:at + batch]
            opt.zero_grad()
            loss = loss_fn(net(x[idx]), y[idx])
            loss.backward()
            opt.step()
    seconds = time.time() - start
    return {'samples': rows * epochs, 'seconds': seconds, 'samples_per_s': rows * epochs / seconds, 'threads': threads, 'peak_rss_mb': peak_mb()}


if __name__ == '__main__':
    mode = sys.argv[1]
    if mode == 'features':
        extra = (sys.argv[5], int(sys.argv[6])) if len(sys.argv) > 6 else ()
        out = features(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), *extra)
    elif mode == 'head':
        out = head(*[int(a) for a in sys.argv[2:9]])
    else:
        raise SystemExit('usage: torch_models.py features DIR THREADS BATCH | head ROWS DIM LABELS HIDDEN BATCH EPOCHS THREADS')
    out['torch'] = torch.__version__
    print(json.dumps(out))
