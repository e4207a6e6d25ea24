# Family "attention": F.scaled_dot_product_attention and nn.MultiheadAttention (through
# torch.func.functional_call with the case's parameters). Masks are additive floats;
# key_padding_mask is a 0/1 mask passed to PyTorch as bool (1 = padded key).
AT = "attention"


def sdpa(t, a):
    mask = t[3] if len(t) > 3 else None
    return F.scaled_dot_product_attention(t[0], t[1], t[2], attn_mask=mask, is_causal=a["is_causal"])


case(AT, "sdpa/plain", "sdpa", [randn(2, 3, 4), randn(2, 5, 4), randn(2, 5, 3)], sdpa, is_causal=False)
case(AT, "sdpa/additive_mask", "sdpa", [randn(2, 3, 4), randn(2, 5, 4), randn(2, 5, 3), randn(3, 5)], sdpa,
     is_causal=False)
case(AT, "sdpa/causal", "sdpa", [randn(2, 2, 4, 3), randn(2, 2, 4, 3), randn(2, 2, 4, 3)], sdpa, is_causal=True)


def mha(t, a):
    q, k, v, w_in, b_in, w_out, b_out = t[:7]
    E = w_out.shape[0]
    m = torch.nn.MultiheadAttention(E, a["heads"], batch_first=a["batch_first"]).to(q.dtype)
    params = {"in_proj_weight": w_in, "in_proj_bias": b_in, "out_proj.weight": w_out, "out_proj.bias": b_out}
    kpm = t[7].bool() if a["key_padding"] else None
    attn_mask = t[-1] if a["attn_mask"] else None
    out, weights = torch.func.functional_call(
        m, params, (q, k, v), {"key_padding_mask": kpm, "attn_mask": attn_mask, "need_weights": True,
                               "average_attn_weights": a["average"]})
    return out, weights


E, H = 6, 2
PARAMS = [randn(3 * E, E), randn(3 * E), randn(E, E), randn(E)]
case(AT, "mha/batch_first", "mha", [randn(2, 3, E), randn(2, 4, E), randn(2, 4, E)] + PARAMS, mha, heads=H,
     batch_first=True, key_padding=False, attn_mask=False, average=True)
case(AT, "mha/seq_first_per_head", "mha", [randn(3, 2, E), randn(4, 2, E), randn(4, 2, E)] + PARAMS, mha, heads=H,
     batch_first=False, key_padding=False, attn_mask=False, average=False)
case(AT, "mha/masks", "mha", [randn(2, 3, E), randn(2, 4, E), randn(2, 4, E)] + PARAMS +
     [mask([[0, 0, 0, 1], [0, 1, 0, 0]]), randn(3, 4)], mha, heads=3, batch_first=True, key_padding=True,
     attn_mask=True, average=True)
