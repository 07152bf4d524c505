#!/usr/bin/env bash
# The checks that need a CUDA GPU, in one go (CI has none; everything else runs there):
#   1. the CUDA-only tests — the compiled Triton kernels (one block shape each, to keep compiles short)
#      against SDPA / an fp64 reference, and the language-model stack on CUDA (bf16 autocast, KV cache);
#   2. the GPU section of the attention benchmark — autotuned Triton FlashAttention-2 against SDPA's flash
#      backend at T=4096, d=128, causal, bf16 (issue 6's targets), with the card's name on every row.
# Usage: benchmarks/gpu_check.sh   (PYTHON=... to pick the interpreter; it needs torch with CUDA and triton)
set -uo pipefail
py=${PYTHON:-python3}
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.max.sm --format=csv
$py -c "import torch, triton; print('torch', torch.__version__, '| triton', triton.__version__, '|', torch.cuda.get_device_name())"
status=0
FORGE_TRITON_AUTOTUNE=0 $py -m pytest -q -p no:cacheprovider -o addopts= --timeout 600 -rs \
    tests/test_attention_triton.py tests/test_cuda.py || status=1
$py -m benchmarks.bench_attention gpu || status=1
exit $status
