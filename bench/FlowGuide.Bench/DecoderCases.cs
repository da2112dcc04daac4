using FlowGuide.Models.Video;
using FlowGuide.Nn;
using FlowGuide.Sampling;
using FlowGuide.Tensors;

namespace FlowGuide.Bench;

/// <summary>
/// The shipped model's VAE decoder per layer at a batch of 1, 2 and 17 frames (untaped forward, taped forward and the
/// input-gradient backward), to see what a MotionPrompt pair decode pays per frame against the final whole-video decode.
/// </summary>
public static class DecoderCases
{
    public static IEnumerable<BenchResult> Run(string? modelPath)
    {
        var model = ShippedModel.Load(PipelineCases.FindModel(modelPath));
        if (model.Pipeline.Decoder is not CompactVae vae) yield break;
        var dec = vae.Decoder;
        var rng = new Rng(3);
        var latent = Tensor.Randn(rng, model.Pipeline.LatentShape(model.Defaults.ToOptions(seed: 0)));
        var pr = Harness.Measure("DecodeFrames pair taped fwd+bwd", "flowguide", () =>
        {
            using var s = new TensorScope();
            var x = latent.DetachedLeaf();
            Tensor y;
            using (GradMode.EnableGrad()) y = Ops.Sum(FlowGuide.Models.VideoFrameDecoding.DecodeFrames(vae, x, new[] { 4, 5 }, false));
            Autograd.Grad(y, new[] { x });
        });
        yield return pr;
        foreach (int batch in new[] { 1, 2, 17 })
        {
            int hl = model.Defaults.Height / vae.SpatialFactor, wl = model.Defaults.Width / vae.SpatialFactor;
            var z = Tensor.Randn(rng, batch, vae.Config.ZDim, hl, wl);
            BenchResult PerFrame(string what, Action<Tensor> pass)
            {
                var r = Harness.Measure($"decoder {what} batch {batch}", "flowguide", () =>
                {
                    using var s = new TensorScope();
                    pass(z.DetachedLeaf());
                });
                return r with { Note = $"({r.MinMs / batch:F2} ms per frame)" };
            }
            yield return PerFrame("no-grad", x => { using (GradMode.NoGrad()) dec.Forward(x); });
            yield return PerFrame("taped fwd", x => { using (GradMode.EnableGrad()) Ops.Sum(dec.Forward(x)); });
            yield return PerFrame("taped fwd+bwd(input)", x =>
            {
                Tensor y;
                using (GradMode.EnableGrad()) y = Ops.Sum(dec.Forward(x));
                Autograd.Grad(y, new[] { x });
            });
        }
    }
}

/// <summary>Nearest 2x upsampling + 3x3 conv: upsample first against the four-phase op, at decoder layer sizes.</summary>
public static class UpsampleConvCases
{
    public static IEnumerable<BenchResult> Run()
    {
        var rng = new Rng(4);
        foreach (var (c, o, h, batch) in new[] { (96, 48, 32, 2), (128, 96, 16, 2), (96, 48, 32, 17), (128, 96, 16, 17) })
        {
            var x = Tensor.Randn(rng, batch, c, h, h);
            var w = Tensor.Randn(rng, o, c, 3, 3);
            var b = Tensor.Randn(rng, o);
            foreach (bool taped in new[] { false, true })
            {
                Action Make(bool phase) => () =>
                {
                    using var s = new TensorScope();
                    var xl = x.DetachedLeaf();
                    using var g = taped ? GradMode.EnableGrad() : GradMode.NoGrad();
                    var y = phase ? xl.UpsampleNearest2xConv3x3(w, b) : Ops.Conv2d(xl.UpsampleNearest(2, 2), w, b, padding: 1);
                    if (taped) Autograd.Grad(Ops.Sum(y), new[] { xl });
                };
                string what = $"{batch}x{c}x{h}x{h} -> {o} {(taped ? "fwd+bwd(input)" : "no-grad")}";
                yield return Harness.Measure($"upsample+conv3x3 {what}", "upsample first", Make(false));
                yield return Harness.Measure($"upsample+conv3x3 {what}", "four phases", Make(true));
            }
        }
    }
}
