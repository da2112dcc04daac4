using FlowGuide.Nn;
using FlowGuide.SafeTensors;
using FlowGuide.Tensors;

namespace FlowGuide.Models.Flow;

/// <summary>
/// A small learned optical-flow network of the RAFT family (Teed and Deng 2020): feature and context encoders at 1/8
/// resolution, an all-pairs correlation volume (one batched matmul) with an average-pooled pyramid, bilinear look-ups
/// (GridSample) in a (2r+1)^2 window around the current estimate at every level, a ConvGRU update block with a flow
/// head, and convex upsampling (a learned softmax over each coarse pixel's 3x3 neighbourhood) to full resolution.
/// Frames are [N, 3, H, W] in [-1, 1]. Everything is engine ops, so gradients reach weights and both frames. In
/// training mode the coordinates are detached between iterations (as RAFT trains); in eval mode they are not, so the
/// gradient with respect to the frames is the exact derivative of the unrolled estimate.
/// </summary>
public sealed class RaftSmall : Module
{
    private readonly RaftEncoder _fnet, _cnet;
    private readonly RaftMotionEncoder _motion;
    private readonly ConvGru _gru;
    private readonly RaftHead _flowHead;
    private readonly RaftHead? _maskHead;

    public RaftSmall(RaftSmallConfig config, Rng rng)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(rng);
        config.Validate();
        Config = config;
        _fnet = Child("fnet", new RaftEncoder(config.EncoderChannels, config.FeatureDim, rng, instanceNorm: config.FeatureNorm));
        _cnet = Child("cnet", new RaftEncoder(config.EncoderChannels, config.HiddenDim + config.ContextDim, rng));
        _motion = Child("encoder", new RaftMotionEncoder(config, rng));
        _gru = Child("gru", new ConvGru(config.HiddenDim, config.ContextDim + config.MotionDim, rng));
        _flowHead = Child("flow_head", new RaftHead(config.HiddenDim, Math.Max(8, config.HiddenDim * 3 / 2), 2, 3, rng));
        if (config.ConvexUpsampling)
            _maskHead = Child("mask", new RaftHead(config.HiddenDim, Math.Max(8, config.HiddenDim * 2), 9 * Stride * Stride, 1, rng));
    }

    private const int Stride = RaftSmallConfig.Stride;

    public RaftSmallConfig Config { get; }

    /// <summary>
    /// The flow estimates after each iteration, upsampled to [N, 2, H, W] (pixels; frame-1 pixel (x, y) matches frame 2
    /// at (x + u, y + v)). H and W must be multiples of 8 (see <see cref="Estimate"/> for any size). With
    /// <paramref name="allIterations"/> false only the final estimate is upsampled and returned (a list of one).
    /// </summary>
    public IReadOnlyList<Tensor> Forward(Tensor frame1, Tensor frame2, int? iterations = null, bool allIterations = true)
    {
        Check(frame1, frame2, multipleOf8: true);
        int iters = iterations ?? Config.Iterations;
        if (iters < 1) throw new ArgumentException($"RaftSmall.Forward: iterations is {iters}, expected >= 1.");
        int n = frame1.Size(0), h = frame1.Size(2) / Stride, w = frame1.Size(3) / Stride;

        // 1. features of both frames in one batch, context of frame 1
        var feats = _fnet.Forward(Ops.Concat(new[] { frame1, frame2 }, 0)); // [2N, F, h, w]
        var f1 = feats.Narrow(0, 0, n);
        var f2 = feats.Narrow(0, n, n);
        var ctx = _cnet.Forward(frame1);                                      // [N, Hd + Cd, h, w]
        var net = ctx.Narrow(1, 0, Config.HiddenDim).Tanh();
        var inp = ctx.Narrow(1, Config.HiddenDim, Config.ContextDim).Relu();

        // 2. all-pairs correlation and its pyramid
        var pyramid = CorrelationPyramid(f1, f2, Config.CorrLevels);

        // 3. recurrent refinement of coords1 = coords0 + flow at 1/8 resolution
        //    (what does not change across iterations is computed once: look-up grid constants, the context's GRU terms)
        var coords0 = CoordinateGrid(n, h, w);
        var coords1 = coords0;
        var lookup = new CorrelationLookup(pyramid, Config.CorrRadius, Config.CorrLevels);
        var gru = _gru.Prepare(inp);
        var outputs = new List<Tensor>(allIterations ? iters : 1);
        for (int it = 0; it < iters; it++)
        {
            if (Training) coords1 = coords1.Detach();
            var corr = lookup.Sample(coords1);                                // [N, L (2r+1)^2, h, w]
            var flow = coords1.Sub(coords0);                                  // [N, 2, h, w]
            var motion = _motion.Forward(corr, flow);
            net = _gru.Step(gru, net, motion);                                // GRU input [inp, motion]
            coords1 = coords1.Add(_flowHead.Forward(net));
            if (allIterations || it == iters - 1)
                outputs.Add(Upsample(coords1.Sub(coords0), net));            // [N, 2, H, W]
        }
        return outputs;
    }

    /// <summary>
    /// Flow [N, 2, H, W] for frames of any size (at least 8x8): pads both frames by edge replication to multiples of
    /// 8, runs <see cref="Forward"/> and crops. Frames are in [-1, 1].
    /// </summary>
    public Tensor Estimate(Tensor frame1, Tensor frame2, int? iterations = null)
    {
        Check(frame1, frame2, multipleOf8: false);
        int h = frame1.Size(2), w = frame1.Size(3);
        int ph = (Stride - h % Stride) % Stride, pw = (Stride - w % Stride) % Stride;
        if (ph == 0 && pw == 0) return Forward(frame1, frame2, iterations, allIterations: false)[0];
        var pads = new[] { (0, 0), (0, 0), (ph / 2, ph - ph / 2), (pw / 2, pw - pw / 2) };
        var flow = Forward(frame1.Pad(pads, PadMode.Replicate), frame2.Pad(pads, PadMode.Replicate), iterations, allIterations: false)[0];
        return flow.Narrow(2, ph / 2, h).Narrow(3, pw / 2, w);
    }

    private static void Check(Tensor frame1, Tensor frame2, bool multipleOf8)
    {
        ArgumentNullException.ThrowIfNull(frame1);
        ArgumentNullException.ThrowIfNull(frame2);
        string op = multipleOf8 ? "RaftSmall.Forward" : "RaftSmall.Estimate";
        if (frame1.Rank != 4 || frame1.Size(1) != 3)
            throw new ArgumentException($"{op}: frame1 has shape {frame1.Shape}, expected [N, 3, H, W] (RGB in [-1, 1]).");
        if (frame2.Shape != frame1.Shape)
            throw new ArgumentException($"{op}: frame2 has shape {frame2.Shape} but frame1 has {frame1.Shape}; the frames must match.");
        int h = frame1.Size(2), w = frame1.Size(3);
        if (multipleOf8 && (h % Stride != 0 || w % Stride != 0 || h == 0 || w == 0))
            throw new ArgumentException($"{op}: frames are {h}x{w}, expected H and W to be positive multiples of 8 (use Estimate to pad).");
        if (h < Stride || w < Stride)
            throw new ArgumentException($"{op}: frames are {h}x{w}, expected at least 8x8.");
    }

    /// <summary>
    /// corr(i, j) = f1(i) . f2(j) / sqrt(F) for all pixel pairs, as [N h w, 1, h, w] (one frame-2 map per frame-1
    /// pixel), followed by levels average-pooled 2x2 (floor), as long as they stay at least 1x1.
    /// </summary>
    public static List<Tensor> CorrelationPyramid(Tensor f1, Tensor f2, int levels)
    {
        int n = f1.Size(0), c = f1.Size(1), h = f1.Size(2), w = f1.Size(3);
        var a = f1.Reshape(n, c, h * w).Transpose(1, 2);                      // [N, hw, F]
        var b = f2.Reshape(n, c, h * w);                                      // [N, F, hw]
        var corr = Ops.Matmul(a, b).MulScalar(1f / MathF.Sqrt(c));            // [N, hw, hw]
        var level = corr.Reshape(n * h * w, 1, h, w);                         // [N hw, 1, h, w]
        var pyramid = new List<Tensor> { level };
        for (int l = 1; l < levels; l++)
        {
            if (level.Size(2) < 2 || level.Size(3) < 2) break;
            level = level.AvgPool2d(2);
            pyramid.Add(level);
        }
        return pyramid;
    }

    /// <summary>
    /// Bilinear samples of every pyramid level in a (2r+1) x (2r+1) window around coords / 2^level (zeros outside):
    /// [N, levels (2r+1)^2, h, w]. Levels missing because the volume got too small are filled with zeros.
    /// </summary>
    public static Tensor Lookup(List<Tensor> pyramid, Tensor coords, int radius, int? levels = null) =>
        new CorrelationLookup(pyramid, radius, levels ?? pyramid.Count).Sample(coords);
    /// <summary>[N, 2, h, w] holding each cell's own (x, y).</summary>
    internal static Tensor CoordinateGrid(int n, int h, int w)
    {
        var g = Tensor.Empty(n, 2, h, w);
        var s = g.Span;
        for (int b = 0; b < n; b++)
            for (int y = 0; y < h; y++)
                for (int x = 0; x < w; x++)
                {
                    s[((b * 2) * h + y) * w + x] = x;
                    s[((b * 2 + 1) * h + y) * w + x] = y;
                }
        return g;
    }

    /// <summary>1/8-resolution flow to full resolution: convex combination of the 3x3 neighbours (learned mask), or bilinear.</summary>
    private Tensor Upsample(Tensor flow, Tensor net)
    {
        int n = flow.Size(0), h = flow.Size(2), w = flow.Size(3);
        if (_maskHead is null)
            return flow.UpsampleBilinear2d(h * Stride, w * Stride, alignCorners: false).MulScalar(Stride);
        var mask = _maskHead.Forward(net).MulScalar(0.25f)
            .Reshape(n, 1, 9, Stride, Stride, h, w).Softmax(2);               // [N, 1, 9, 8, 8, h, w]
        var up = flow.MulScalar(Stride).Unfold(new[] { 3, 3 }, padding: new[] { 1, 1 })
            .Reshape(n, 2, 9, 1, 1, h, w);                                    // [N, 2, 9, 1, 1, h, w]
        var fine = mask.Mul(up).Sum(2);                                       // [N, 2, 8, 8, h, w]
        return fine.Permute(0, 1, 4, 2, 5, 3).Reshape(n, 2, h * Stride, w * Stride); // [N, 2, H, W]
    }

    /// <summary>
    /// RAFT's sequence loss: sum over iterations i of gamma^(n-1-i) times the mean L1 error |pred_i - gt| (both
    /// components, over pixels where <paramref name="valid"/> [N, 1, H, W] is non-zero when given).
    /// </summary>
    public static Tensor SequenceLoss(IReadOnlyList<Tensor> predictions, Tensor groundTruth, float gamma = 0.8f, Tensor? valid = null)
    {
        ArgumentNullException.ThrowIfNull(predictions);
        ArgumentNullException.ThrowIfNull(groundTruth);
        if (predictions.Count == 0) throw new ArgumentException("RaftSmall.SequenceLoss: no predictions.");
        if (!(gamma > 0)) throw new ArgumentException($"RaftSmall.SequenceLoss: gamma is {gamma}, expected > 0.");
        Tensor? total = null;
        int count = predictions.Count;
        float denom = valid is null ? 1f : Math.Max(1f, SumOf(valid)) * 2f;
        for (int i = 0; i < count; i++)
        {
            if (predictions[i].Shape != groundTruth.Shape)
                throw new ArgumentException($"RaftSmall.SequenceLoss: prediction {i} has shape {predictions[i].Shape}, ground truth {groundTruth.Shape}.");
            var err = predictions[i].Sub(groundTruth).Abs();
            var term = valid is null ? err.Mean() : err.Mul(valid).Sum().MulScalar(1f / denom);
            term = term.MulScalar(MathF.Pow(gamma, count - 1 - i));
            total = total is null ? term : total.Add(term);
        }
        return total!;
    }

    private static float SumOf(Tensor t)
    {
        double s = 0;
        foreach (var v in t.Span) s += v;
        return (float)s;
    }

    /// <summary>Writes the weights with the configuration in the file's metadata (key "raft_small_config").</summary>
    public void Save(string path) =>
        this.SaveSafeTensors(path, DType.F32, new Dictionary<string, string> { ["raft_small_config"] = Config.Serialize(), ["model"] = "RaftSmall" });

    /// <summary>Loads a model written by <see cref="Save"/>, set to eval mode. Throws <see cref="InvalidDataException"/> for a file without the configuration.</summary>
    public static RaftSmall Load(string path)
    {
        RaftSmallConfig config;
        using (var file = SafeTensorsFile.Open(path))
        {
            if (!file.Metadata.TryGetValue("raft_small_config", out var s))
                throw new InvalidDataException($"RaftSmall.Load: '{path}' has no 'raft_small_config' metadata; it was not written by RaftSmall.Save.");
            config = RaftSmallConfig.Parse(s);
        }
        var model = new RaftSmall(config, new Rng(0));
        model.LoadSafeTensors(path);
        model.Eval();
        return model;
    }
}
