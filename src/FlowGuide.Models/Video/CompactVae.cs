using FlowGuide.Nn;
using FlowGuide.SafeTensors;
using FlowGuide.Tensors;

namespace FlowGuide.Models.Video;

/// <summary>
/// A small convolutional video VAE with Wan's latent layout (frame 0 alone, then groups of
/// <see cref="CompactVaeConfig.TemporalFactor"/> frames; 2^(levels-1) spatial compression; model-space latents
/// normalised by latents_mean / latents_std), built to train quickly on a CPU. Each latent frame is coded from its own
/// group of frames, stacked along channels (frame 0 repeated to fill its group), by a 2-D network of plain 3x3
/// convolutions, SiLU and residual blocks whose last convolution starts at zero — no normalisation layers.
/// <para>
/// Why not the Wan VAE for FlowGuide's own model: on the motion world's dark, low-contrast clips the Wan
/// architecture (RMS-normalised, 17-frame causal 3-D convolutions) fell into a mean-colour solution within a few dozen
/// steps and stayed there (15 dB validation PSNR after 850 steps; 27 dB while overfitting one clip, output independent
/// of the input), while this network trains in minutes. <see cref="Wan.WanVae"/> still loads real Wan2.1 checkpoints.
/// </para>
/// </summary>
public sealed class CompactVae : Module, IVideoAutoencoder, ICausalVideoDecoder
{
    public const string ConfigFileName = "config.json";
    public const string WeightsFileName = "diffusion_pytorch_model.safetensors";

    private readonly Tensor _mean, _std;

    public CompactVae(CompactVaeConfig config, Rng? rng = null)
    {
        ArgumentNullException.ThrowIfNull(config);
        config.Validate();
        Config = config;
        var ch = config.Channels;
        int groupChannels = 3 * config.TemporalFactor;
        Encoder = Child("encoder", new CompactCoder(groupChannels, ch, 2 * config.ZDim, config.NumResBlocks, down: true, rng));
        Decoder = Child("decoder", new CompactCoder(config.ZDim, ch.Reverse().ToArray(), groupChannels, config.NumResBlocks, down: false, rng));
        _mean = Tensor.FromArray(config.LatentsMean.Select(v => (float)v).ToArray(), 1, config.ZDim, 1, 1, 1);
        _std = Tensor.FromArray(config.LatentsStd.Select(v => (float)v).ToArray(), 1, config.ZDim, 1, 1, 1);
    }

    public CompactVaeConfig Config { get; }
    public CompactCoder Encoder { get; }
    public CompactCoder Decoder { get; }

    public int LatentChannels => Config.ZDim;
    public int TemporalFactor => Config.TemporalFactor;
    public int SpatialFactor => Config.SpatialFactor;

    /// <summary>Raw latent -> model space, per channel.</summary>
    public Tensor Normalize(Tensor z) => z.Sub(_mean).Div(_std);

    /// <summary>Model space -> raw latent, per channel.</summary>
    public Tensor Denormalize(Tensor zModel) => zModel.Mul(_std).Add(_mean);

    /// <summary>The posterior mean, normalised to model space.</summary>
    public Tensor Encode(Tensor video) => Normalize(EncodeMoments(video).Mean);

    /// <summary>
    /// The diagonal Gaussian posterior in raw latent space: mean and log-variance, each [B, z, F', H', W'], for video
    /// [B, 3, F, H, W] with F = 1 + k·TemporalFactor and H, W multiples of SpatialFactor.
    /// </summary>
    public (Tensor Mean, Tensor LogVar) EncodeMoments(Tensor video)
    {
        CheckVideo(video);
        int b = video.Size(0), f = video.Size(2), h = video.Size(3), w = video.Size(4), tf = Config.TemporalFactor;
        int groups = 1 + (f - 1) / tf;
        // 1. frames -> groups stacked along channels: group 0 is frame 0 repeated, group g frames 1+tf(g-1) .. tf·g
        var index = Enumerable.Repeat(0, tf).Concat(Enumerable.Range(1, f - 1)).ToArray();
        var x = video.IndexSelect(2, index)                                          // [B, 3, G·tf, H, W]
            .Reshape(b, 3, groups, tf, h, w).Permute(0, 2, 1, 3, 4, 5)              // [B, G, 3, tf, H, W]
            .Reshape(b * groups, 3 * tf, h, w);                                      // [B·G, 3·tf, H, W]
        // 2. 2-D encoder per group
        var m = Encoder.Forward(x);                                                  // [B·G, 2z, H', W']
        int z = Config.ZDim, hl = m.Size(2), wl = m.Size(3);
        m = m.Reshape(b, groups, 2 * z, hl, wl).Permute(0, 2, 1, 3, 4);             // [B, 2z, G, H', W']
        return (m.Narrow(1, 0, z), m.Narrow(1, z, z));
    }

    /// <summary>Model-space latent -> video in about [-1, 1], clamped.</summary>
    public Tensor Decode(Tensor latent) => DecodeRaw(Denormalize(latent), clamp: true);

    /// <summary>
    /// Raw latent [B, z, F', H', W'] -> video [B, 3, 1 + (F' - 1)·tf, H'·s, W'·s]; <paramref name="clamp"/> limits the
    /// output to [-1, 1] (no gradient where it saturates, so training decodes unclamped).
    /// </summary>
    public Tensor DecodeRaw(Tensor rawLatent, bool clamp = false) => DecodeGroups(rawLatent, clamp, startsAtFrameZero: true);

    /// <summary>
    /// Latent frames [start, start + count) only: each latent frame is decoded from itself alone, so nothing before the
    /// range runs (there is no causal history; <paramref name="historyGradient"/> changes nothing) and the frames equal
    /// those of <see cref="Decode"/> on the whole latent.
    /// </summary>
    public Tensor DecodeLatentRange(Tensor latent, int start, int count, bool historyGradient)
    {
        ArgumentNullException.ThrowIfNull(latent);
        if (latent.Rank != 5 || start < 0 || count < 1 || start + count > latent.Size(2))
            throw new ArgumentException($"CompactVae.DecodeLatentRange: latent frames [{start}, {start + count}) are not inside latent {latent.Shape}.");
        return DecodeGroups(Denormalize(latent.Narrow(2, start, count)), clamp: true, startsAtFrameZero: start == 0);
    }

    private Tensor DecodeGroups(Tensor rawLatent, bool clamp, bool startsAtFrameZero)
    {
        ArgumentNullException.ThrowIfNull(rawLatent);
        if (rawLatent.Rank != 5 || rawLatent.Size(1) != Config.ZDim || rawLatent.Size(2) < 1)
            throw new ArgumentException($"CompactVae.Decode: latent must be [B, {Config.ZDim}, F', H', W'], got {rawLatent.Shape}.", nameof(rawLatent));
        int b = rawLatent.Size(0), groups = rawLatent.Size(2), hl = rawLatent.Size(3), wl = rawLatent.Size(4), tf = Config.TemporalFactor;
        // 1. latent frames as a batch of 2-D latents
        var x = rawLatent.Permute(0, 2, 1, 3, 4).Reshape(b * groups, Config.ZDim, hl, wl); // [B·G, z, H', W']
        var y = Decoder.Forward(x);                                                  // [B·G, 3·tf, H, W]
        int h = y.Size(2), w = y.Size(3);
        // 2. groups back to frames: frame 0 from group 0's first slot, then every slot of the later groups
        y = y.Reshape(b, groups, 3, tf, h, w).Permute(0, 2, 1, 3, 4, 5)              // [B, 3, G, tf, H, W]
            .Reshape(b, 3, groups * tf, h, w);                                       // [B, 3, G·tf, H, W]
        if (!startsAtFrameZero) return clamp ? y.Clamp(-1f, 1f) : y;                 // every slot is a real frame
        var keep = new[] { 0 }.Concat(Enumerable.Range(tf, (groups - 1) * tf)).ToArray();
        var video = groups == 1 ? y.Narrow(2, 0, 1) : y.IndexSelect(2, keep);        // [B, 3, 1 + (G-1)·tf, H, W]
        return clamp ? video.Clamp(-1f, 1f) : video;
    }

    /// <summary>Copy with new latent statistics (the trainer fits them at export).</summary>
    public CompactVae WithLatentStats(double[] mean, double[] std)
    {
        var copy = new CompactVae(Config with { LatentsMean = mean, LatentsStd = std });
        copy.LoadStateDict(StateDict());
        return copy;
    }

    /// <summary>Writes config.json and the safetensors weights as <paramref name="storeAs"/> (each via a temporary file renamed into place).</summary>
    public void Save(string directory, DType storeAs = DType.F32)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        Directory.CreateDirectory(directory);
        SafeTensorsWriter.Write(Path.Combine(directory, WeightsFileName), StateDict(), new Dictionary<string, string> { ["format"] = "pt" }, storeAs);
        string configPath = Path.Combine(directory, ConfigFileName);
        File.WriteAllText(configPath + ".tmp", Config.ToJson());
        File.Move(configPath + ".tmp", configPath, overwrite: true);
    }

    /// <summary>Loads a folder written by <see cref="Save"/> (strict: every key and shape must match).</summary>
    public static CompactVae Load(string directory)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        string configPath = Path.Combine(directory, ConfigFileName);
        if (!File.Exists(configPath)) throw new FileNotFoundException($"CompactVae.Load: '{directory}' has no {ConfigFileName}.", configPath);
        var vae = new CompactVae(CompactVaeConfig.FromJson(File.ReadAllText(configPath)));
        using (var reader = SafeTensorsCheckpoint.Open(directory))
            vae.LoadStateDict(reader.Names, k => reader.GetInfo(k).Shape, (k, dst) => reader.LoadInto(k, dst), strict: true);
        vae.Eval();
        return vae;
    }

    private void CheckVideo(Tensor video)
    {
        ArgumentNullException.ThrowIfNull(video);
        int tf = Config.TemporalFactor, s = Config.SpatialFactor;
        if (video.Rank != 5 || video.Size(1) != 3 || (video.Size(2) - 1) % tf != 0 || video.Size(3) % s != 0 || video.Size(4) % s != 0)
            throw new ArgumentException($"CompactVae.Encode: video must be [B, 3, {tf}k+1, H, W] with H and W multiples of {s}, got {video.Shape}.", nameof(video));
    }
}

/// <summary>
/// One half of <see cref="CompactVae"/>: 3x3 conv in, per level residual blocks then a resolution change (stride-2
/// conv going down, nearest 2x + conv going up), extra residual block at the lowest level, SiLU and a 3x3 conv out.
/// </summary>
public sealed class CompactCoder : Module
{
    private readonly bool _down;

    public CompactCoder(int inChannels, int[] widths, int outChannels, int resBlocks, bool down, Rng? rng)
    {
        _down = down;
        ConvIn = Child("conv_in", new Conv2d(inChannels, widths[0], 3, rng, padding: 1));
        var blocks = new List<CompactResBlock>();
        var changes = new List<Conv2d>();
        for (int i = 0; i < widths.Length; i++)
        {
            bool lowest = down ? i == widths.Length - 1 : i == 0;
            for (int r = 0; r < resBlocks + (lowest ? 1 : 0); r++) blocks.Add(new CompactResBlock(widths[i], rng));
            if (i + 1 < widths.Length)
                changes.Add(down ? new Conv2d(widths[i], widths[i + 1], 3, rng, stride: 2, padding: 1)
                                 : new Conv2d(widths[i], widths[i + 1], 3, rng, padding: 1));
        }
        Blocks = Child("blocks", new ModuleList<CompactResBlock>(blocks));
        Resample = Child("resample", new ModuleList<Conv2d>(changes));
        ConvOut = Child("conv_out", new Conv2d(widths[^1], outChannels, 3, rng, padding: 1));
        Widths = widths;
        ResBlocks = resBlocks;
    }

    public Conv2d ConvIn { get; }
    public ModuleList<CompactResBlock> Blocks { get; }
    public ModuleList<Conv2d> Resample { get; }
    public Conv2d ConvOut { get; }
    public int[] Widths { get; }
    public int ResBlocks { get; }

    /// <summary>[N, in, H, W] -> [N, out, H·2^±(levels-1), ...].</summary>
    public Tensor Forward(Tensor x)
    {
        x = ConvIn.Forward(x);
        int block = 0;
        for (int i = 0; i < Widths.Length; i++)
        {
            bool lowest = _down ? i == Widths.Length - 1 : i == 0;
            for (int r = 0; r < ResBlocks + (lowest ? 1 : 0); r++) x = Blocks[block++].Forward(x);
            if (i + 1 < Widths.Length)
                x = _down ? Resample[i].Forward(x.Silu()) : x.Silu().UpsampleNearest2xConv3x3(Resample[i].Weight, Resample[i].Bias); // = conv(up2x(.)), 16/36 of the work
        }
        return ConvOut.Forward(x.Silu());
    }
}

/// <summary>x + conv(SiLU(conv(SiLU(x)))), the second conv initialised to zero so each block starts as the identity.</summary>
public sealed class CompactResBlock : Module
{
    public CompactResBlock(int channels, Rng? rng)
    {
        Conv1 = Child("conv1", new Conv2d(channels, channels, 3, rng, padding: 1));
        Conv2 = Child("conv2", new Conv2d(channels, channels, 3, rng, padding: 1));
        if (rng is not null) { Conv2.Weight.Span.Clear(); Conv2.Bias!.Span.Clear(); }
    }

    public Conv2d Conv1 { get; }
    public Conv2d Conv2 { get; }

    public Tensor Forward(Tensor x) => x.Add(Conv2.Forward(Conv1.Forward(x.Silu()).Silu()));
}
