# The reference of the GPU decode benchmark: Hugging Face transformers, eager attention, fp16, a Llama-3-8B-shaped
# model with random weights made on the GPU itself, decode tokens/s at each batch size given (argv) after a
# 128-token prompt, 64 greedy steps timed (a 1-token generate subtracted, so prefill is not counted).
import sys, time, torch
from transformers import LlamaConfig, LlamaForCausalLM

cfg = LlamaConfig(hidden_size=4096, intermediate_size=14336, num_hidden_layers=32, num_attention_heads=32,
                  num_key_value_heads=8, vocab_size=128256, max_position_embeddings=8192, rope_theta=500000.0,
                  attn_implementation="eager")
torch.set_default_dtype(torch.float16)
with torch.device("cuda"):
    model = LlamaForCausalLM(cfg).eval()
weights = sum(p.numel() * p.element_size() for p in model.parameters())

def timed(batch, new):
    ids = torch.randint(0, cfg.vocab_size, (batch, 128), device="cuda")
    torch.cuda.synchronize(); t = time.perf_counter()
    model.generate(ids, max_new_tokens=new, min_new_tokens=new, do_sample=False, pad_token_id=0)
    torch.cuda.synchronize(); return time.perf_counter() - t

with torch.no_grad():
    for b in [int(a) for a in sys.argv[1:]] or [1]:
        timed(b, 2)
        s = timed(b, 65) - timed(b, 1)
        print(f"BENCH torch-eager-fp16 llama-3-8b batch {b}: {64 / s:.1f} steps/s, {64 * b / s:.1f} tokens/s aggregate "
              f"({weights / 1e9:.2f} GB of weights)", flush=True)
