using FlowGuide.Tensors;

namespace FlowGuide.Nn;

/// <summary>2-D convolution, weight [out, in/groups, kh, kw], PyTorch default initialisation.</summary>
public sealed class Conv2d : Module
{
    private readonly int[] _stride, _dilation;
    private readonly (int Before, int After)[] _padding;

    public Conv2d(int inChannels, int outChannels, int kernel, Rng? rng, int stride = 1, int padding = 0, int dilation = 1, int groups = 1, bool bias = true)
        : this(inChannels, outChannels, new[] { kernel, kernel }, rng, new[] { stride, stride }, new[] { (padding, padding), (padding, padding) }, new[] { dilation, dilation }, groups, bias) { }

    public Conv2d(int inChannels, int outChannels, int[] kernel, Rng? rng, int[] stride, (int Before, int After)[] padding, int[] dilation, int groups = 1, bool bias = true)
    {
        ConvChecks.Validate("Conv2d", inChannels, outChannels, groups, kernel, 2);
        int fanIn = inChannels / groups * kernel[0] * kernel[1];
        Weight = Parameter("weight", Init.KaimingUniformDefault(rng, fanIn, outChannels, inChannels / groups, kernel[0], kernel[1]));
        Bias = bias ? Parameter("bias", Init.BiasDefault(rng, fanIn, outChannels)) : null;
        _stride = stride; _padding = padding; _dilation = dilation; Groups = groups;
    }

    public Tensor Weight { get; }
    public Tensor? Bias { get; }
    public int Groups { get; }

    public Tensor Forward(Tensor x) => Ops.Conv2d(x, Weight, Bias, _stride, _padding, _dilation, Groups);
}

/// <summary>
/// 3-D convolution over [N, C, T, H, W], weight [out, in/groups, kt, kh, kw]. With <c>causal</c> the time axis is padded
/// 2·p in front and 0 behind (Wan's CausalConv3d), so frame t never sees later frames; spatial padding stays symmetric.
/// </summary>
public sealed class Conv3d : Module
{
    private readonly int[] _stride, _dilation;
    private readonly (int Before, int After)[] _padding;

    public Conv3d(int inChannels, int outChannels, int[] kernel, Rng? rng, int[]? stride = null, int[]? padding = null, bool causal = false, int[]? dilation = null, int groups = 1, bool bias = true)
    {
        ConvChecks.Validate("Conv3d", inChannels, outChannels, groups, kernel, 3);
        stride ??= new[] { 1, 1, 1 };
        padding ??= new[] { 0, 0, 0 };
        dilation ??= new[] { 1, 1, 1 };
        if (stride.Length != 3 || padding.Length != 3 || dilation.Length != 3)
            throw new ArgumentException("Conv3d: stride, padding and dilation need one value per axis (T, H, W).");
        int fanIn = inChannels / groups * kernel[0] * kernel[1] * kernel[2];
        Weight = Parameter("weight", Init.KaimingUniformDefault(rng, fanIn, outChannels, inChannels / groups, kernel[0], kernel[1], kernel[2]));
        Bias = bias ? Parameter("bias", Init.BiasDefault(rng, fanIn, outChannels)) : null;
        _stride = stride; _dilation = dilation; Groups = groups; Causal = causal;
        _padding = new[]
        {
            causal ? (2 * padding[0], 0) : (padding[0], padding[0]),
            (padding[1], padding[1]),
            (padding[2], padding[2]),
        };
        TimePadding = _padding[0].Before;
    }

    public Tensor Weight { get; }
    public Tensor? Bias { get; }
    public int Groups { get; }
    public bool Causal { get; }

    /// <summary>Frames of padding in front of the time axis (2·p when causal): the length of the cache chunked decoding keeps.</summary>
    public int TimePadding { get; }

    public Tensor Forward(Tensor x) => Ops.Conv3d(x, Weight, Bias, _stride, _padding, _dilation, Groups);

    /// <summary>
    /// Causal forward with <paramref name="cache"/> (the last <see cref="TimePadding"/> input frames of the previous chunk)
    /// in place of the zero time padding, so a video processed chunk by chunk gives the same result as in one piece.
    /// </summary>
    public Tensor Forward(Tensor x, Tensor? cache)
    {
        if (!Causal || cache is null || TimePadding == 0) return Forward(x);
        if (cache.Rank != 5 || cache.Size(0) != x.Size(0) || cache.Size(1) != x.Size(1) || cache.Size(3) != x.Size(3) || cache.Size(4) != x.Size(4))
            throw new ArgumentException($"Conv3d: cache {cache.Shape} does not match input {x.Shape} outside the time axis.");
        int have = cache.Size(2);
        var input = Ops.Concat(new[] { cache, x }, 2);
        var pad = (Math.Max(0, TimePadding - have), 0);
        return Ops.Conv3d(input, Weight, Bias, _stride, new[] { pad, _padding[1], _padding[2] }, _dilation, Groups);
    }
}

internal static class ConvChecks
{
    public static void Validate(string op, int inChannels, int outChannels, int groups, int[] kernel, int dims)
    {
        if (kernel.Length != dims) throw new ArgumentException($"{op}: kernel needs {dims} sizes, got {kernel.Length}.");
        if (inChannels <= 0 || outChannels <= 0 || groups <= 0 || kernel.Any(k => k <= 0))
            throw new ArgumentException($"{op}: channels ({inChannels}, {outChannels}), groups ({groups}) and kernel [{string.Join(", ", kernel)}] must be positive.");
        if (inChannels % groups != 0 || outChannels % groups != 0)
            throw new ArgumentException($"{op}: groups {groups} must divide both in ({inChannels}) and out ({outChannels}) channels.");
    }
}
