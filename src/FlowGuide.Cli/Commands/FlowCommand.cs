using System.Diagnostics;
using FlowGuide.Models.Flow;
using FlowGuide.Tensors;

namespace FlowGuide.Cli;

/// <summary><c>flowguide flow FRAME1 FRAME2 --out flow.flo</c>: dense optical flow between two images.</summary>
public sealed class FlowCommand : Command
{
    public override string Name => "flow";
    public override string Summary => "optical flow between two images (.flo, optional colour-coded PNG)";
    public override string Usage =>
        "flowguide flow FRAME1 FRAME2 --out flow.flo [--png vis.png] [--method classical|learned] [--weights PATH] [--max-magnitude M]\n\n" +
        "Estimates the flow from FRAME1 to FRAME2 (PNG, PPM, or anything ffmpeg decodes; same size) and writes it as\n" +
        "Middlebury .flo. --png also writes the Middlebury colour coding, saturating at --max-magnitude pixels (default:\n" +
        "the largest motion in the field). --method learned uses the small RAFT-style network (weights under\n" +
        $"{FlowEstimators.LearnedWeightsRelative}, or --weights). See also 'flowguide flow eval'.";

    public override int Run(Args args, TextWriter output, CancellationToken cancel)
    {
        var outPath = args.String("out") ?? throw new UsageException("--out flow.flo is required");
        var png = args.String("png");
        float? maxMag = args.String("max-magnitude") is null ? null : args.Float("max-magnitude", 0);
        if (maxMag is { } m && !(m > 0)) throw new UsageException($"--max-magnitude must be > 0, got {m}");
        var estimate = FlowEstimators.FromArgs(args);
        args.EnsureAllUsed(2);
        if (args.Positional.Count < 2) throw new UsageException("expected two frames: flowguide flow FRAME1 FRAME2 --out flow.flo");
        if (!outPath.EndsWith(".flo", StringComparison.OrdinalIgnoreCase))
            throw new UsageException($"--out must name a .flo file, got '{outPath}'");
        if (png is not null && !png.EndsWith(".png", StringComparison.OrdinalIgnoreCase))
            throw new UsageException($"--png must name a .png file, got '{png}'");

        var (f1, f2) = FlowEstimators.ReadPair(args.Positional[0], args.Positional[1]);
        cancel.ThrowIfCancellationRequested();
        var sw = Stopwatch.StartNew();
        Tensor flow;
        using (GradMode.NoGrad()) flow = estimate(f1, f2);
        sw.Stop();
        FlowIO.WriteFlo(outPath, flow);
        if (png is not null) FlowIO.WriteFlowPng(png, flow, maxMag);
        output.WriteLine($"{outPath}: {f1.Size(3)}x{f1.Size(2)} flow, max |f| {MaxMagnitude(flow):0.00} px, {sw.Elapsed.TotalMilliseconds:0} ms" +
                         (png is null ? "" : $"; colour coding in {png}"));
        return 0;
    }

    internal static double MaxMagnitude(Tensor flow)
    {
        var s = flow.Span;
        int plane = flow.Size(2) * flow.Size(3);
        double mx = 0;
        for (int i = 0; i < plane; i++) mx = Math.Max(mx, Math.Sqrt((double)s[i] * s[i] + (double)s[plane + i] * s[plane + i]));
        return mx;
    }
}
