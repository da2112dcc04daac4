using System.Diagnostics;
using System.Globalization;
using FlowGuide.Models.Flow;
using FlowGuide.Tensors;

// flow-accuracy eval MANIFEST [RAFT_WEIGHTS] : MANIFEST lines "name<TAB>frame1<TAB>frame2<TAB>gt.flo"; prints "name<TAB>method<TAB>epe<TAB>seconds"
//                                             (with RAFT_WEIGHTS also the learned RaftSmall as method "learned")
// flow-accuracy chairs DIR SEED COUNT        : writes COUNT ChairsGenerator pairs (64x64, the learned estimator's training
//                                             distribution, a seed no run trained or selected on) as PNG + .flo; prints manifest lines
// flow-accuracy time [SIZE]     : forward (no tape), forward (tape) and backward of the classical estimator on a SIZE^2 pair
CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;
var methods = new (string Name, ClassicalFlowOptions Options)[]
{
    ("classical", ClassicalFlowOptions.Default with { InputRange = PixelRange.ZeroToOne }),
    ("classical-fast", ClassicalFlowOptions.Default with { InputRange = PixelRange.ZeroToOne, Iterations = 15, FinestIterations = 8, Warps = 4 }),
};
if (args.Length >= 2 && args[0] == "eval")
{
    var raft = args.Length > 2 ? RaftSmall.Load(args[2]) : null;
    foreach (var line in File.ReadAllLines(args[1]))
    {
        if (string.IsNullOrWhiteSpace(line)) continue;
        var p = line.Split('\t');
        var f1 = FlowFrames.Read(p[1]);
        var f2 = FlowFrames.Read(p[2]);
        var gt = FlowIO.ReadFlo(p[3]);
        foreach (var (name, options) in methods)
        {
            var est = new ClassicalFlow(options);
            var sw = Stopwatch.StartNew();
            Tensor flow;
            using (GradMode.NoGrad()) flow = est.Estimate(f1, f2);
            Console.WriteLine($"{p[0]}\t{name}\t{FlowMetrics.EndpointError(flow, gt):F4}\t{sw.Elapsed.TotalSeconds:F3}");
        }
        if (raft is not null)
        {
            var sw = Stopwatch.StartNew();
            Tensor flow;
            using (GradMode.NoGrad()) flow = raft.Estimate(f1.MulScalar(2f).AddScalar(-1f), f2.MulScalar(2f).AddScalar(-1f)); // RaftSmall takes [-1, 1]
            Console.WriteLine($"{p[0]}\tlearned\t{FlowMetrics.EndpointError(flow, gt):F4}\t{sw.Elapsed.TotalSeconds:F3}");
        }
    }
}
else if (args.Length >= 4 && args[0] == "chairs")
{
    var gen = new FlowGuide.Training.Flow.ChairsGenerator(64, 64, ulong.Parse(args[2], CultureInfo.InvariantCulture));
    for (int k = 0; k < int.Parse(args[3], CultureInfo.InvariantCulture); k++)
    {
        var s = gen.Sample(k);
        string name = $"chairs{k:00}", stem = Path.Combine(args[1], name);
        WritePng(stem + "_1.png", s.Frame1);
        WritePng(stem + "_2.png", s.Frame2);
        FlowIO.WriteFlo(stem + ".flo", s.Flow);
        Console.WriteLine($"{name}\t{stem}_1.png\t{stem}_2.png\t{stem}.flo");
    }
}
else if (args.Length >= 1 && args[0] == "time")
{
    int size = args.Length > 1 ? int.Parse(args[1]) : 256;
    if (args.Length > 2) methods = methods.Where(m => m.Name == args[2]).ToArray();
    bool? checkpoint = args.Length > 3 ? bool.Parse(args[3]) : null;
    var rng = new Rng(5);
    Tensor tex;
    using (GradMode.NoGrad()) tex = ClassicalFlow.GaussianBlur(Tensor.Rand(rng, 1, 3, size, size), 2f);
    var flowGt = Tensor.Full(1.5f, 1, 2, size, size);
    Tensor f1;
    using (GradMode.NoGrad()) f1 = Ops.Warp(tex, flowGt, GridPadding.Border);
    foreach (var (name, options) in checkpoint is null ? methods.Concat(methods.Select(m => (m.Name + " (checkpointed)", m.Options with { CheckpointWarps = true }))) : methods.Select(m => (m.Name + $" (checkpoint {checkpoint})", m.Options with { CheckpointWarps = checkpoint.Value })))
    {
        var est = new ClassicalFlow(options);
        double bestFwd = double.MaxValue, bestTape = double.MaxValue, bestBwd = double.MaxValue;
        for (int rep = 0; rep < 5; rep++)
        {
            var sw = Stopwatch.StartNew();
            using (GradMode.NoGrad()) est.Estimate(f1, tex);
            bestFwd = Math.Min(bestFwd, sw.Elapsed.TotalSeconds);
            var a = f1.DetachedLeaf(); var b = tex.DetachedLeaf();
            sw.Restart();
            var loss = est.Estimate(a, b).Square().Mean();
            bestTape = Math.Min(bestTape, sw.Elapsed.TotalSeconds);
            sw.Restart();
            Autograd.Grad(loss, new[] { a, b });
            bestBwd = Math.Min(bestBwd, sw.Elapsed.TotalSeconds);
            GC.Collect();
        }
        Console.WriteLine($"{name}\t{size}x{size}\tforward {bestFwd:F3} s\tforward+tape {bestTape:F3} s\tbackward {bestBwd:F3} s\t(best of 5, {Environment.ProcessorCount} cores)");
    }
}
else Console.Error.WriteLine("usage: flow-accuracy eval MANIFEST [RAFT_WEIGHTS] | flow-accuracy chairs DIR SEED COUNT | flow-accuracy time [SIZE]");

// [1, 3, H, W] in [-1, 1] -> 8-bit RGB PNG
static void WritePng(string path, Tensor frame)
{
    int h = frame.Size(2), w = frame.Size(3), plane = h * w;
    var src = frame.Span;
    var px = new byte[3 * plane];
    for (int i = 0; i < plane; i++)
        for (int c = 0; c < 3; c++)
            px[i * 3 + c] = (byte)Math.Clamp(MathF.Round((src[c * plane + i] + 1f) * 127.5f), 0f, 255f);
    FlowGuide.Media.ImageIO.Write(path, new FlowGuide.Media.RgbFrame(w, h, px));
}
