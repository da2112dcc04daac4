using FlowGuide.Models.Flow;
using FlowGuide.Models.Text;
using FlowGuide.Models.Wan;
using FlowGuide.Sampling;
using FlowGuide.Tensors;

namespace FlowGuide.Guidance.Tests;

/// <summary>
/// A complete tiny text-to-video stack for MotionPrompt tests, all weights random and frozen: word encoder (width 16),
/// Tiny Wan transformer, Tiny Wan VAE (4x spatial, 2x temporal: 5 frames of 16x16 from a [1, 4, 3, 4, 4] latent), Tiny
/// discriminator and a cheap ClassicalFlow (2 levels, 1 warp, 3 iterations).
/// </summary>
internal sealed class MotionPromptTestParts
{
    public const string Prompt = "a red circle moves left";

    public MotionPromptTestParts()
    {
        Text = new WordTextEncoder(WordTextEncoderConfig.Tiny, new Vocabulary(new[] { "a", "red", "circle", "moves", "left", "the", "quickly" }), new Rng(1));
        Vae = new WanVae(WanVaeConfig.Tiny, new Rng(2));
        Wan = new WanTransformer3D(WanTransformerConfig.Tiny, new Rng(3));
        Discriminator = new FlowDiscriminator(FlowDiscriminatorConfig.Tiny, new Rng(4));
        foreach (var m in new FlowGuide.Nn.Module[] { Text, Vae, Wan, Discriminator }) { m.Freeze(); m.Eval(); }
        Pipeline = new TextToVideoPipeline(Wan, Text, Vae);
    }

    public WordTextEncoder Text { get; }
    public WanVae Vae { get; }
    public WanTransformer3D Wan { get; }
    public FlowDiscriminator Discriminator { get; }
    public TextToVideoPipeline Pipeline { get; }

    public static ClassicalFlowOptions Flow { get; } = ClassicalFlowOptions.Default with { Levels = 2, Warps = 1, Iterations = 3, FinestIterations = null };

    public static GenerationOptions Generation(int steps = 4, ulong seed = 3) =>
        new() { Steps = steps, Sampler = SamplerKind.Euler, GuidanceScale = 5f, Seed = seed, Frames = 5, Height = 16, Width = 16 };

    /// <summary>Options for a guided window of the given steps with the cheap flow.</summary>
    public static MotionPromptOptions Options(int start, int end) => new() { Window = StepWindow.Steps(start, end), Flow = Flow };

    /// <summary>
    /// The objective on a fixed random latent (seed 12) at t = 0.6 with frame pairs (3, 1), CFG 5 against "", tokens
    /// initialised from "the" (<c>T0</c>), and a start point T near T0 (seed 13).
    /// </summary>
    public (MotionPromptObjective Objective, Tensor T0, Tensor T) Objective(MotionPromptOptions options)
    {
        var latent = Tensor.Randn(new Rng(12), 1, 4, 3, 4, 4);
        var cfg = new CfgVelocity(Wan, 5f);
        Tensor neg;
        using (GradMode.NoGrad()) neg = Text.Encode("");
        var flow = new ClassicalFlow(Flow);
        var promptTokens = Text.Embed(Text.Tokenize(Prompt));
        var t0 = Text.Embed(Text.Tokenize("the"));
        var objective = new MotionPromptObjective(Text, promptTokens, p => cfg.Compute(latent, 600f, p, neg, 5f), latent, 0.6,
            Vae, new[] { 3, 1 }, flow.Estimate, Discriminator, t0, options);
        var t = Ops.Add(t0, Ops.MulScalar(Tensor.Randn(new Rng(13), t0.Shape.ToArray()), 0.1f)).Detach();
        return (objective, t0, t);
    }

    /// <summary>Every weight of every part, by part and name (for "nothing but T changed" checks).</summary>
    public Dictionary<string, float[]> Weights()
    {
        var d = new Dictionary<string, float[]>();
        foreach (var (part, m) in new (string, FlowGuide.Nn.Module)[] { ("text", Text), ("vae", Vae), ("wan", Wan), ("disc", Discriminator) })
            foreach (var kv in m.StateDict()) d[part + "." + kv.Key] = kv.Value.ToArray();
        return d;
    }
}
