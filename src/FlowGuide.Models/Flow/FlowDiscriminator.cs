using System.Text.Json;
using System.Text.Json.Nodes;
using FlowGuide.Nn;
using FlowGuide.SafeTensors;
using FlowGuide.Tensors;

namespace FlowGuide.Models.Flow;

/// <summary>One pre-norm ViT block: <c>x += attn(norm1(x))</c>, <c>x += fc2(gelu(fc1(norm2(x))))</c>.</summary>
public sealed class FlowDiscriminatorBlock : Module
{
    public FlowDiscriminatorBlock(FlowDiscriminatorConfig c, Rng? rng)
    {
        Norm1 = Child("norm1", new LayerNorm(c.Width, 1e-6f));
        Attn = Child("attn", new MultiHeadAttention(c.Width, c.Heads, rng));
        Norm2 = Child("norm2", new LayerNorm(c.Width, 1e-6f));
        Fc1 = Child("fc1", new Linear(c.Width, c.FfnDim, bias: true, rng));
        Fc2 = Child("fc2", new Linear(c.FfnDim, c.Width, bias: true, rng));
    }

    public LayerNorm Norm1 { get; }
    public MultiHeadAttention Attn { get; }
    public LayerNorm Norm2 { get; }
    public Linear Fc1 { get; }
    public Linear Fc2 { get; }

    /// <summary>x [B, N, D] → [B, N, D].</summary>
    public Tensor Forward(Tensor x)
    {
        x = Ops.Add(x, Attn.Forward(Norm1.Forward(x)));
        return Ops.Add(x, Fc2.Forward(Ops.Gelu(Fc1.Forward(Norm2.Forward(x)))));
    }
}

/// <summary>
/// MotionPrompt's optical-flow discriminator phi: one flow field [B, 2, H, W] (u, v in pixels) → a logit per flow, with
/// <c>sigmoid(logit) = P(the flow comes from a real video)</c>. A projection of the 2-channel flow patches to tokens (a
/// stride-PatchSize convolution), a learned position table resized bilinearly to the token grid (so any H, W works; sides
/// that are not multiples of the patch are edge-padded), pre-norm ViT blocks, a final LayerNorm, the mean over tokens and
/// a 3-layer MLP head. Differentiable with respect to the flow, which is how MotionPrompt's gradient starts.
/// </summary>
/// <remarks>
/// Parameter names: <c>patch_embed.{weight,bias}</c>, <c>pos_embed</c> [1, D, G, G], <c>blocks.{i}.{norm1,attn.*,norm2,fc1,fc2}</c>,
/// <c>norm.*</c>, <c>head.{0,1,2}.{weight,bias}</c>. On disk (<see cref="Save"/>): a folder with <c>config.json</c> (the
/// sizes, plus an optional "training" object recording how the training flows were made) and <c>model.safetensors</c>.
/// </remarks>
public sealed class FlowDiscriminator : Module
{
    public const string ConfigFileName = ConfigFolder.ConfigFileName;
    public const string WeightsFileName = ConfigFolder.WeightsFileName;

    public FlowDiscriminator(FlowDiscriminatorConfig config, Rng? rng)
    {
        ArgumentNullException.ThrowIfNull(config);
        config.Validate();
        Config = config;
        int d = config.Width, p = config.PatchSize;
        PatchEmbed = Child("patch_embed", new Conv2d(2, d, p, rng, stride: p));
        PositionEmbedding = Parameter("pos_embed", Init.Normal(rng, 0.02f, 1, d, config.PositionGrid, config.PositionGrid));
        Blocks = Child("blocks", new ModuleList<FlowDiscriminatorBlock>(Enumerable.Range(0, config.Layers).Select(_ => new FlowDiscriminatorBlock(config, rng))));
        Norm = Child("norm", new LayerNorm(d, 1e-6f));
        Head = Child("head", new ModuleList<Linear>(new[]
        {
            new Linear(d, config.HeadDim, bias: true, rng),
            new Linear(config.HeadDim, config.HeadDim, bias: true, rng),
            new Linear(config.HeadDim, 1, bias: true, rng),
        }));
    }

    public FlowDiscriminatorConfig Config { get; }
    public Conv2d PatchEmbed { get; }
    /// <summary>[1, D, G, G], resized to each input's token grid.</summary>
    public Tensor PositionEmbedding { get; }
    public ModuleList<FlowDiscriminatorBlock> Blocks { get; }
    public LayerNorm Norm { get; }
    public ModuleList<Linear> Head { get; }

    /// <summary>
    /// How the training flows were made (estimator and its settings), read from and written to <c>config.json</c>'s
    /// "training" object; null when unknown. MotionPrompt uses it to estimate flows at inference the same way.
    /// </summary>
    public JsonObject? TrainingInfo { get; set; }

    /// <summary>Logits [B] for flows [B, 2, H, W] (any H, W ≥ 1); <c>sigmoid</c> of a logit is P(real).</summary>
    public Tensor Forward(Tensor flow)
    {
        ArgumentNullException.ThrowIfNull(flow);
        if (flow.Rank != 4 || flow.Size(1) != 2 || flow.Size(0) < 1 || flow.Size(2) < 1 || flow.Size(3) < 1)
            throw new ArgumentException($"FlowDiscriminator: flow must be [B, 2, H, W] (u, v in pixels) with B, H, W >= 1, got {flow.Shape}.", nameof(flow));
        int b = flow.Size(0), h = flow.Size(2), w = flow.Size(3), p = Config.PatchSize, d = Config.Width;

        // 1. scale, edge-pad to whole patches, project patches to tokens
        var x = Ops.MulScalar(flow, Config.FlowScale);
        int padH = (p - h % p) % p, padW = (p - w % p) % p;
        if (padH > 0 || padW > 0) x = Ops.PadLast(x, new[] { 0, padW, 0, padH }, PadMode.Replicate);
        x = PatchEmbed.Forward(x);                                     // [B, D, gh, gw]
        int gh = x.Size(2), gw = x.Size(3);

        // 2. position table resized to the token grid
        var pos = gh == Config.PositionGrid && gw == Config.PositionGrid ? PositionEmbedding
            : Ops.UpsampleBilinear2d(PositionEmbedding, gh, gw, alignCorners: false); // [1, D, gh, gw]
        x = Ops.Add(x, pos);
        x = Ops.Permute(Ops.Reshape(x, b, d, gh * gw), 0, 2, 1);      // [B, N, D]

        // 3. transformer blocks, final norm, mean over tokens
        foreach (var block in Blocks.Items) x = block.Forward(x);
        x = Ops.Mean(Norm.Forward(x), 1);                              // [B, D]

        // 4. 3-layer MLP head
        x = Ops.Gelu(Head[0].Forward(x));
        x = Ops.Gelu(Head[1].Forward(x));
        return Ops.Reshape(Head[2].Forward(x), b);                     // [B]
    }

    /// <summary>P(real) = sigmoid(logit) per flow, [B].</summary>
    public Tensor Probability(Tensor flow) => Ops.Sigmoid(Forward(flow));

    /// <summary>Writes <c>config.json</c> (sizes and <see cref="TrainingInfo"/>) and <c>model.safetensors</c> into <paramref name="directory"/>, each through a temporary name.</summary>
    public void Save(string directory) => ConfigFolder.Save(this, directory, nameof(FlowDiscriminator), Config.ToJson(), TrainingInfo);

    /// <summary>
    /// Reads a folder written by <see cref="Save"/>: a missing folder or file throws DirectoryNotFound/FileNotFound naming
    /// the path, a malformed config <see cref="InvalidDataException"/>, mismatched weights <see cref="StateDictMismatchException"/>.
    /// The discriminator comes back frozen and in eval mode.
    /// </summary>
    public static FlowDiscriminator Load(string directory)
    {
        var (o, configPath, training) = ConfigFolder.ReadConfig(directory, nameof(FlowDiscriminator), "discriminator");
        var config = FlowDiscriminatorConfig.FromJson(o, configPath);
        return ConfigFolder.LoadWeights(() => new FlowDiscriminator(config, null) { TrainingInfo = training }, directory);
    }
}
