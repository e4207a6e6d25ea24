# Family "reparam": torch.nn.utils.spectral_norm and weight_norm on a bias-free Linear,
# run through torch.func.functional_call so the hooks read the case's tensors. Spectral
# norm's outputs include the power-iterated u and v buffers (not differentiable).
import warnings

R = "reparam"


def sn_linear(t, a):
    x, w, u, v = t
    lin = torch.nn.Linear(w.shape[1], w.shape[0], bias=False).to(w.dtype)
    lin = torch.nn.utils.spectral_norm(lin, n_power_iterations=a["iters"], eps=a["eps"])
    lin.train(a["training"])
    u, v = u.detach().clone(), v.detach().clone()  # the hook updates them in place
    y = torch.func.functional_call(lin, {"weight_orig": w, "weight_u": u, "weight_v": v}, (x,))
    return y, u, v


def wn_linear(t, a):
    x, g, v = t
    lin = torch.nn.Linear(v.shape[1], v.shape[0], bias=False).to(v.dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # deprecated in favour of parametrizations; same math
        lin = torch.nn.utils.weight_norm(lin, dim=a["dim"])
    return torch.func.functional_call(lin, {"weight_g": g, "weight_v": v}, (x,))


def unit(n):
    def gen(rng):
        z = rng.standard_normal(n)
        return z / np.linalg.norm(z)
    return Inp(gen, grad=False)


for name, iters, training in [("train_1", 1, True), ("train_3", 3, True), ("eval", 1, False)]:
    case(R, "spectral_norm/" + name, "spectral_norm_linear", [randn(5, 4), randn(3, 4), unit(3), unit(4)],
         sn_linear, iters=iters, eps=1e-12, training=training)
case(R, "weight_norm/dim0", "weight_norm_linear", [randn(5, 4), unif(0.5, 2, 3, 1), randn(3, 4)], wn_linear, dim=0)
case(R, "weight_norm/all", "weight_norm_linear", [randn(5, 4), unif(0.5, 2), randn(3, 4)], wn_linear, dim=None)
