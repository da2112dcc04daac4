namespace FlowGuide.Models.Flow;

/// <summary>
/// Sizes of <see cref="RaftSmall"/>. Features and the recurrent state live at 1/8 of the input resolution (three
/// stride-2 stages); the correlation pyramid has <see cref="CorrLevels"/> levels looked up within
/// <see cref="CorrRadius"/> cells, so the update block sees CorrLevels x (2 CorrRadius + 1)^2 correlation channels.
/// </summary>
/// <param name="EncoderChannels">Channels after each of the three stride-2 stages of both encoders.</param>
/// <param name="FeatureDim">Channels of the matching features (correlation is their dot product / sqrt(FeatureDim)).</param>
/// <param name="HiddenDim">Channels of the ConvGRU state (the context encoder's tanh half).</param>
/// <param name="ContextDim">Channels of the context input (the context encoder's ReLU half).</param>
/// <param name="MotionDim">Channels of the motion encoding (correlation + flow) fed to the GRU.</param>
/// <param name="CorrLevels">Levels of the correlation pyramid (each 2x2 average-pooled).</param>
/// <param name="CorrRadius">Look-up radius in cells at every level.</param>
/// <param name="Iterations">Recurrent refinement steps.</param>
/// <param name="ConvexUpsampling">Learned 9-neighbour convex upsampling (RAFT); false: bilinear x8.</param>
/// <param name="FeatureNorm">Instance normalisation in the feature encoder (RAFT's fnet). Without it the random-initialised
/// features are so small that the correlation is nearly constant and training does not get off the ground.</param>
public sealed record RaftSmallConfig(
    int[] EncoderChannels,
    int FeatureDim,
    int HiddenDim,
    int ContextDim,
    int MotionDim,
    int CorrLevels,
    int CorrRadius,
    int Iterations,
    bool ConvexUpsampling = true,
    bool FeatureNorm = false)
{
    /// <summary>The shipped size: about 0.8M parameters, 8 iterations.</summary>
    public static RaftSmallConfig Small { get; } = new(new[] { 32, 48, 64 }, 64, 64, 64, 64, 3, 3, 8, FeatureNorm: true);

    /// <summary>A few thousand parameters, for gradient checks and fast tests.</summary>
    public static RaftSmallConfig Tiny { get; } = new(new[] { 4, 6, 8 }, 8, 6, 4, 8, 2, 1, 2);

    /// <summary>The input side must be a multiple of this (see <see cref="RaftSmall.Estimate"/> for padding).</summary>
    public const int Stride = 8;

    public int CorrChannels => CorrLevels * (2 * CorrRadius + 1) * (2 * CorrRadius + 1);

    internal void Validate()
    {
        if (EncoderChannels is not { Length: 3 } || EncoderChannels.Any(c => c < 1))
            throw new ArgumentException($"RaftSmallConfig: EncoderChannels must hold three positive counts, got [{string.Join(", ", EncoderChannels ?? Array.Empty<int>())}].");
        if (FeatureDim < 1 || HiddenDim < 1 || ContextDim < 1 || MotionDim < 3)
            throw new ArgumentException($"RaftSmallConfig: FeatureDim {FeatureDim}, HiddenDim {HiddenDim}, ContextDim {ContextDim} must be >= 1 and MotionDim {MotionDim} >= 3.");
        if (CorrLevels < 1 || CorrRadius < 0 || Iterations < 1)
            throw new ArgumentException($"RaftSmallConfig: CorrLevels {CorrLevels} and Iterations {Iterations} must be >= 1, CorrRadius {CorrRadius} >= 0.");
    }

    /// <summary>One line "key=value;..." stored in the weights file's metadata.</summary>
    public string Serialize() =>
        $"enc={string.Join(',', EncoderChannels)};feat={FeatureDim};hidden={HiddenDim};ctx={ContextDim};motion={MotionDim};levels={CorrLevels};radius={CorrRadius};iters={Iterations};convex={(ConvexUpsampling ? 1 : 0)}" + (FeatureNorm ? ";fnorm=1" : "");

    /// <summary>Parses <see cref="Serialize"/>'s output; throws <see cref="InvalidDataException"/> naming the bad field.</summary>
    public static RaftSmallConfig Parse(string s)
    {
        try
        {
            var kv = s.Split(';', StringSplitOptions.RemoveEmptyEntries).Select(p => p.Split('=', 2)).ToDictionary(p => p[0], p => p[1]);
            int I(string k) => int.Parse(kv[k], System.Globalization.CultureInfo.InvariantCulture);
            var c = new RaftSmallConfig(kv["enc"].Split(',').Select(v => int.Parse(v, System.Globalization.CultureInfo.InvariantCulture)).ToArray(),
                I("feat"), I("hidden"), I("ctx"), I("motion"), I("levels"), I("radius"), I("iters"), I("convex") != 0,
                kv.TryGetValue("fnorm", out var fn) && fn == "1");
            c.Validate();
            return c;
        }
        catch (Exception ex) when (ex is KeyNotFoundException or FormatException or IndexOutOfRangeException or OverflowException or ArgumentException)
        {
            throw new InvalidDataException($"RaftSmallConfig.Parse: '{s}' is not a RaftSmall configuration ({ex.Message}).", ex);
        }
    }
}
