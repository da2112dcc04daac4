using FlowGuide.Nn;
using FlowGuide.Tensors;

namespace FlowGuide.Models.Wan;

/// <summary>
/// Wan's RMS norm over the channel axis (axis 1): x / ||x||₂ · sqrt(C) · gamma, the L2 norm clamped below at 1e-12
/// like torch's F.normalize. <c>gamma</c> has shape [C, 1, 1, 1] in residual blocks and [C, 1, 1] in attention blocks
/// (diffusers' <c>images</c> flag), which is what checkpoints store; both apply to [B, C, T, H, W].
/// </summary>
public sealed class WanRmsNorm : Module
{
    private readonly float _scale;

    public WanRmsNorm(int channels, bool images)
    {
        Channels = channels;
        _scale = MathF.Sqrt(channels);
        Gamma = Parameter("gamma", images ? Tensor.Ones(channels, 1, 1) : Tensor.Ones(channels, 1, 1, 1));
    }

    public int Channels { get; }
    public Tensor Gamma { get; }

    /// <summary>Normalises x [B, C, T, H, W] over C.</summary>
    public Tensor Forward(Tensor x)
    {
        var sumSq = x.Square().Sum(1, keepDim: true);                 // [B, 1, T, H, W]
        var inv = sumSq.Clamp(min: 1e-24f).Rsqrt();                   // 1 / max(||x||, 1e-12)
        var gamma = Gamma.Rank == 4 ? Gamma : Gamma.Reshape(Channels, 1, 1, 1); // [C, 1, 1, 1]
        return x.Mul(inv).Mul(gamma.MulScalar(_scale));
    }
}

/// <summary>
/// Residual block: RMS norm, SiLU, causal 3x3x3 conv, RMS norm, SiLU, (dropout), causal 3x3x3 conv, plus a shortcut
/// that is a 1x1x1 conv (<c>conv_shortcut</c>) when the channel count changes.
/// </summary>
public sealed class WanResidualBlock : Module
{
    public WanResidualBlock(int inDim, int outDim, double dropout, Rng rng)
    {
        Norm1 = Child("norm1", new WanRmsNorm(inDim, images: false));
        Conv1 = Child("conv1", new Conv3d(inDim, outDim, new[] { 3, 3, 3 }, rng, padding: new[] { 1, 1, 1 }, causal: true));
        Norm2 = Child("norm2", new WanRmsNorm(outDim, images: false));
        Dropout = Child("dropout", new Dropout((float)dropout, rng));
        Conv2 = Child("conv2", new Conv3d(outDim, outDim, new[] { 3, 3, 3 }, rng, padding: new[] { 1, 1, 1 }, causal: true));
        if (inDim != outDim) ConvShortcut = Child("conv_shortcut", new Conv3d(inDim, outDim, new[] { 1, 1, 1 }, rng, causal: true));
    }

    public WanRmsNorm Norm1 { get; }
    public Conv3d Conv1 { get; }
    public WanRmsNorm Norm2 { get; }
    public Dropout Dropout { get; }
    public Conv3d Conv2 { get; }
    public Conv3d? ConvShortcut { get; }

    internal Tensor Forward(Tensor x, WanVaeCache? cache)
    {
        var shortcut = ConvShortcut is null ? x : ConvShortcut.Forward(x);
        // 1. norm, SiLU, conv
        var h = WanVaeCache.CausalConv(Conv1, Norm1.Forward(x).Silu(), cache);
        // 2. norm, SiLU, dropout, conv
        h = WanVaeCache.CausalConv(Conv2, Dropout.Forward(Norm2.Forward(h).Silu()), cache);
        return h.Add(shortcut);
    }
}

/// <summary>
/// Single-head self-attention within each frame over its H·W positions (no mixing across time, so it needs no cache):
/// RMS norm, 1x1 <c>to_qkv</c> conv, softmax attention with scale 1/sqrt(C), 1x1 <c>proj</c> conv, plus the input.
/// </summary>
public sealed class WanAttentionBlock : Module
{
    public WanAttentionBlock(int dim, Rng rng)
    {
        Dim = dim;
        Norm = Child("norm", new WanRmsNorm(dim, images: true));
        ToQkv = Child("to_qkv", new Conv2d(dim, dim * 3, 1, rng));
        Proj = Child("proj", new Conv2d(dim, dim, 1, rng));
    }

    public int Dim { get; }
    public WanRmsNorm Norm { get; }
    public Conv2d ToQkv { get; }
    public Conv2d Proj { get; }

    /// <summary>x [B, C, T, H, W] -> same shape.</summary>
    public Tensor Forward(Tensor x)
    {
        int b = x.Size(0), c = x.Size(1), t = x.Size(2), h = x.Size(3), w = x.Size(4);
        // 1. norm, then tokens per frame with channels last
        var tokens = Norm.Forward(x).Permute(0, 2, 3, 4, 1).Reshape(b * t, h * w, c); // [B*T, H*W, C]
        // 2. q, k, v from the 1x1 conv as a linear map over channels
        var qkv = tokens.Linear(ToQkv.Weight.Reshape(3 * c, c), ToQkv.Bias);      // [B*T, H*W, 3C]
        var q = qkv.Narrow(2, 0, c);
        var k = qkv.Narrow(2, c, c);
        var v = qkv.Narrow(2, 2 * c, c);
        // 3. attention over the frame's positions, then the output projection
        var o = Ops.ScaledDotProductAttention(q, k, v);                            // [B*T, H*W, C]
        o = o.Linear(Proj.Weight.Reshape(c, c), Proj.Bias);                        // [B*T, H*W, C]
        o = o.Reshape(b, t, h, w, c).Permute(0, 4, 1, 2, 3);                       // [B, C, T, H, W]
        return o.Add(x);
    }
}

/// <summary>Middle block: residual, attention, residual (diffusers <c>resnets.{0,1}</c>, <c>attentions.0</c>).</summary>
public sealed class WanMidBlock : Module
{
    public WanMidBlock(int dim, double dropout, Rng rng)
    {
        Resnets = Child("resnets", new ModuleList<WanResidualBlock>(new[]
        {
            new WanResidualBlock(dim, dim, dropout, rng),
            new WanResidualBlock(dim, dim, dropout, rng),
        }));
        Attentions = Child("attentions", new ModuleList<WanAttentionBlock>(new[] { new WanAttentionBlock(dim, rng) }));
    }

    public ModuleList<WanResidualBlock> Resnets { get; }
    public ModuleList<WanAttentionBlock> Attentions { get; }

    internal Tensor Forward(Tensor x, WanVaeCache? cache)
    {
        x = Resnets[0].Forward(x, cache);
        x = Attentions[0].Forward(x);
        return Resnets[1].Forward(x, cache);
    }
}

/// <summary>The kind of resampling a <see cref="WanResample"/> does.</summary>
public enum WanResampleMode { Upsample2d, Upsample3d, Downsample2d, Downsample3d }

/// <summary>
/// Spatial (and optionally temporal) resampling. Up: nearest x2 in H and W, then a 3x3 conv per frame (channels halved
/// by default); the 3-D variant first doubles the frames with a causal (3,1,1) <c>time_conv</c> producing 2C channels
/// that are interleaved in time — except for the first latent frame, which stays single. Down: zero pad right/bottom by
/// one, stride-2 3x3 conv per frame; the 3-D variant then halves the frames with a stride-2 (3,1,1) <c>time_conv</c>
/// whose only history is the previous frame, the first frame passing through unchanged.
/// </summary>
public sealed class WanResample : Module
{
    public WanResample(int dim, WanResampleMode mode, Rng rng, int? upsampleOutDim = null)
    {
        Mode = mode;
        bool up = mode is WanResampleMode.Upsample2d or WanResampleMode.Upsample3d;
        int outDim = up ? upsampleOutDim ?? dim / 2 : dim;
        Resample = Child("resample", new ConvSlot(up
            ? new Conv2d(dim, outDim, 3, rng, padding: 1)
            : new Conv2d(dim, dim, 3, rng, stride: 2)));
        if (mode == WanResampleMode.Upsample3d)
            TimeConv = Child("time_conv", new Conv3d(dim, dim * 2, new[] { 3, 1, 1 }, rng, padding: new[] { 1, 0, 0 }, causal: true));
        else if (mode == WanResampleMode.Downsample3d)
            TimeConv = Child("time_conv", new Conv3d(dim, dim, new[] { 3, 1, 1 }, rng, stride: new[] { 2, 1, 1 }, causal: true));
    }

    public WanResampleMode Mode { get; }

    /// <summary>The per-frame 2-D conv, registered as <c>resample.1</c> (index 1 of diffusers' nn.Sequential).</summary>
    public ConvSlot Resample { get; }

    public Conv3d? TimeConv { get; }

    internal Tensor Forward(Tensor x, WanVaeCache? cache)
    {
        // 1. temporal upsampling (before the spatial step)
        if (Mode == WanResampleMode.Upsample3d) x = TimeUp(x, cache);

        // 2. spatial resampling, frame by frame: the 2-D weight as a (1, kh, kw) 3-D kernel
        var w2 = Resample.Conv.Weight;
        var w3 = w2.Reshape(w2.Size(0), w2.Size(1), 1, w2.Size(2), w2.Size(3)); // [O, C, 1, 3, 3]
        if (Mode is WanResampleMode.Upsample2d or WanResampleMode.Upsample3d)
            x = x.UpsampleNearest2xConv3x3(w3, Resample.Conv.Bias);             // = conv(up2x(frame)), 16/36 of the work
        else
            x = Ops.Conv3d(x, w3, Resample.Conv.Bias, new[] { 1, 2, 2 }, new[] { (0, 0), (0, 1), (0, 1) });

        // 3. temporal downsampling (after the spatial step)
        if (Mode == WanResampleMode.Downsample3d) x = TimeDown(x, cache);
        return x;
    }

    private Tensor TimeUp(Tensor x, WanVaeCache? cache)
    {
        var conv = TimeConv!;
        int t = x.Size(2);
        if (cache is null)
        {
            // whole sequence: frame 0 stays single, frames 1.. are doubled by a causal conv that starts from zeros
            if (t == 1) return x;
            var rest = Interleave(conv.Forward(x.Narrow(2, 1, t - 1)));
            return Ops.Concat(new[] { x.Narrow(2, 0, 1), rest }, 2);
        }
        int slot = cache.NextSlot();
        if (!cache.Seen(slot))
        {
            cache.Set(slot, null); // the first chunk (latent frame 0) is not doubled and leaves no history
            return x;
        }
        var prev = cache.Get(slot);
        var y = conv.Forward(x, prev);
        cache.Set(slot, WanVaeCache.Tail(prev, x, 2));
        return Interleave(y);
    }

    /// <summary>[B, 2C, T, H, W] -> [B, C, 2T, H, W], channel half 0 giving the even frames and half 1 the odd ones.</summary>
    private static Tensor Interleave(Tensor y)
    {
        int b = y.Size(0), c = y.Size(1) / 2, t = y.Size(2), h = y.Size(3), w = y.Size(4);
        return y.Reshape(b, 2, c, t, h, w)                                        // [B, 2, C, T, H, W]
            .Permute(0, 2, 3, 1, 4, 5)                                            // [B, C, T, 2, H, W]
            .Reshape(b, c, 2 * t, h, w);                                          // [B, C, 2T, H, W]
    }

    private Tensor TimeDown(Tensor x, WanVaeCache? cache)
    {
        var conv = TimeConv!;
        int t = x.Size(2);
        if (cache is null)
        {
            // whole sequence: frame 0 passes, then stride-2 windows (0,1,2), (2,3,4), ... without padding
            if (t == 1) return x;
            return Ops.Concat(new[] { x.Narrow(2, 0, 1), conv.Forward(x) }, 2);
        }
        int slot = cache.NextSlot();
        var prev = cache.Get(slot);
        if (!cache.Seen(slot))
        {
            cache.Set(slot, x.Narrow(2, t - 1, 1)); // the first chunk (frame 0) passes through
            return x;
        }
        var y = conv.Forward(Ops.Concat(new[] { prev!, x }, 2));
        cache.Set(slot, x.Narrow(2, t - 1, 1));
        return y;
    }
}

/// <summary>Holds a conv at index "1" so its keys read <c>resample.1.weight</c>, as diffusers' nn.Sequential names it.</summary>
public sealed class ConvSlot : Module
{
    public ConvSlot(Conv2d conv) => Conv = Child("1", conv);

    public Conv2d Conv { get; }
}

/// <summary>Decoder stage: num_res_blocks + 1 residual blocks, then an optional upsampler (<c>upsamplers.0</c>).</summary>
public sealed class WanUpBlock : Module
{
    public WanUpBlock(int inDim, int outDim, int numResBlocks, double dropout, WanResampleMode? upsample, Rng rng)
    {
        var blocks = new List<WanResidualBlock>();
        for (int i = 0; i <= numResBlocks; i++) blocks.Add(new WanResidualBlock(i == 0 ? inDim : outDim, outDim, dropout, rng));
        Resnets = Child("resnets", new ModuleList<WanResidualBlock>(blocks));
        if (upsample is { } mode)
            Upsamplers = Child("upsamplers", new ModuleList<WanResample>(new[] { new WanResample(outDim, mode, rng) }));
    }

    public ModuleList<WanResidualBlock> Resnets { get; }
    public ModuleList<WanResample>? Upsamplers { get; }

    internal Tensor Forward(Tensor x, WanVaeCache? cache)
    {
        foreach (var r in Resnets.Items) x = r.Forward(x, cache);
        return Upsamplers is null ? x : Upsamplers[0].Forward(x, cache);
    }
}
