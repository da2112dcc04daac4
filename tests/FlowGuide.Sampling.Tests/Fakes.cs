using FlowGuide.Models;
using FlowGuide.Models.Text;
using FlowGuide.Tensors;

namespace FlowGuide.Sampling.Tests;

/// <summary>
/// v = 0.5 tanh(z) + 0.001 t + 2 mean(context[:, :, 0]): cheap, differentiable in the latent and the context, and different for
/// the conditional and unconditional prompts. Records every call's batch size.
/// </summary>
internal sealed class FakeVelocityModel : IVelocityModel
{
    public List<int> CallBatches { get; } = new();
    public List<float> CallTimesteps { get; } = new();

    public Tensor Forward(Tensor latent, Tensor timestep, Tensor context)
    {
        int b = latent.Size(0);
        Assert.Equal(new[] { b }, timestep.Shape.ToArray());
        Assert.Equal(b, context.Size(0));
        lock (CallBatches) { CallBatches.Add(b); CallTimesteps.Add(timestep.Span[0]); }
        var t = Ops.Reshape(Ops.MulScalar(timestep, 0.001f), b, 1, 1, 1, 1);
        // channel 0 only: LayerNorm outputs have zero mean over all channels, so the full mean would not see the prompt
        var c = Ops.Reshape(Ops.MulScalar(Ops.Mean(Ops.Narrow(context, 2, 0, 1), new[] { 1, 2 }), 2f), b, 1, 1, 1, 1);
        return Ops.Add(Ops.MulScalar(Ops.Tanh(latent), 0.5f), Ops.Add(t, c));
    }

    /// <summary>dv/dz of the model (the same for every context and timestep).</summary>
    public static float Derivative(float z) { float th = MathF.Tanh(z); return 0.5f * (1 - th * th); }
}

/// <summary>4 latent channels, 4x temporal and 2x spatial: the first 3 channels, each latent frame after the first repeated 4 times, nearest 2x upsampling.</summary>
internal sealed class FakeDecoder : IVideoDecoder
{
    public int LatentChannels => 4;
    public int TemporalFactor => 4;
    public int SpatialFactor => 2;

    public Tensor Decode(Tensor latent)
    {
        int f = latent.Size(2);
        var index = Enumerable.Range(0, 1 + (f - 1) * 4).Select(i => (i + 3) / 4).ToArray();
        var rgb = Ops.Narrow(latent, 1, 0, 3);
        return Ops.UpsampleNearest(Ops.IndexSelect(rgb, 2, index), 1, 2, 2);
    }
}

internal static class Fakes
{
    public static readonly string[] Words = { "a", "cat", "dog", "runs", "jumps", "left", "right", "blurry", "authentic", "." };

    public static WordTextEncoder Encoder() => new(WordTextEncoderConfig.Tiny, new Vocabulary(Words), new Rng(3));

    public static (TextToVideoPipeline Pipeline, FakeVelocityModel Model) Pipeline()
    {
        var model = new FakeVelocityModel();
        return (new TextToVideoPipeline(model, Encoder(), new FakeDecoder()), model);
    }

    /// <summary>9 frames of 8x8: latent [1, 4, 3, 4, 4].</summary>
    public static GenerationOptions Small(int steps = 6, SamplerKind sampler = SamplerKind.UniPc, float cfg = 5f, ulong seed = 11) =>
        new() { Steps = steps, Sampler = sampler, GuidanceScale = cfg, Seed = seed, Frames = 9, Height = 8, Width = 8, NegativePrompt = "blurry" };
}

/// <summary>Records (name, phase, step) for each callback into a shared log; optionally transforms.</summary>
internal sealed class LoggingHook(string name, List<string> log, StepWindow? window = null) : GuidanceHook(window)
{
    public Func<StepContext, LatentUpdate?>? Before { get; init; }
    public Func<StepContext, Tensor, Tensor?>? After { get; init; }
    public List<float[]> SeenLatents { get; } = new();

    public override LatentUpdate? BeforeModel(StepContext context)
    {
        log.Add($"{name}.before.{context.Step}");
        SeenLatents.Add(context.Latent.ToArray());
        return Before?.Invoke(context);
    }

    public override Tensor? AfterPrediction(StepContext context, Tensor velocity, Tensor predictedX0)
    {
        log.Add($"{name}.prediction.{context.Step}");
        return null;
    }

    public override Tensor? AfterStep(StepContext context, Tensor newLatent)
    {
        log.Add($"{name}.after.{context.Step}");
        return After?.Invoke(context, newLatent);
    }
}

internal sealed class SyncProgress : IProgress<StepProgress>
{
    public List<StepProgress> Reports { get; } = new();
    public Action<StepProgress>? OnReport { get; init; }
    public void Report(StepProgress value) { Reports.Add(value); OnReport?.Invoke(value); }
}
