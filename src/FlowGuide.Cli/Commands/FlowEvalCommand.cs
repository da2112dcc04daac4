using System.Diagnostics;
using FlowGuide.Models.Flow;
using FlowGuide.Tensors;

namespace FlowGuide.Cli;

/// <summary>
/// <c>flowguide flow eval DIR</c>: endpoint error over a folder in the Middlebury layout
/// (<c>other-data/SEQ/frame10.png, frame11.png</c> with <c>other-gt-flow/SEQ/flow10.flo</c>).
/// </summary>
public sealed class FlowEvalCommand : Command
{
    public override string Name => "flow eval";
    public override string Summary => "EPE of an estimator over a Middlebury-layout folder of pairs with .flo ground truth";
    public override string Usage =>
        "flowguide flow eval DIR [--method classical|learned] [--weights PATH]\n\n" +
        "For every DIR/other-data/SEQ holding frame10.png and frame11.png with ground truth DIR/other-gt-flow/SEQ/flow10.flo,\n" +
        "estimates the flow and prints the mean endpoint error over the pixels whose ground truth is known, then the mean\n" +
        "over sequences. Sequences without ground truth are listed as skipped.";

    public override int Run(Args args, TextWriter output, CancellationToken cancel)
    {
        var estimate = FlowEstimators.FromArgs(args);
        args.EnsureAllUsed(1);
        if (args.Positional.Count < 1) throw new UsageException("expected a folder: flowguide flow eval DIR");
        var dir = args.Positional[0];
        if (!Directory.Exists(dir)) throw new DirectoryNotFoundException($"folder '{dir}' not found.");
        var data = Path.Combine(dir, "other-data");
        var gt = Path.Combine(dir, "other-gt-flow");
        if (!Directory.Exists(data))
            throw new DirectoryNotFoundException($"'{dir}' has no other-data/ folder; expected the Middlebury layout other-data/SEQ/frame10.png, frame11.png and other-gt-flow/SEQ/flow10.flo.");
        if (!Directory.Exists(gt))
            throw new DirectoryNotFoundException($"'{dir}' has no other-gt-flow/ folder; expected ground truth as other-gt-flow/SEQ/flow10.flo.");

        var seqs = Directory.GetDirectories(data).Select(Path.GetFileName).OfType<string>().OrderBy(s => s, StringComparer.Ordinal).ToList();
        var epes = new List<double>();
        output.WriteLine($"{"sequence",-20} {"size",9} {"EPE",8} {"ms",7}");
        foreach (var seq in seqs)
        {
            cancel.ThrowIfCancellationRequested();
            var f10 = Path.Combine(data, seq, "frame10.png");
            var f11 = Path.Combine(data, seq, "frame11.png");
            var flo = Path.Combine(gt, seq, "flow10.flo");
            if (!File.Exists(f10) || !File.Exists(f11) || !File.Exists(flo))
            {
                output.WriteLine($"{seq,-20} skipped (needs frame10.png, frame11.png and ../other-gt-flow/{seq}/flow10.flo)");
                continue;
            }
            var (a, b) = FlowEstimators.ReadPair(f10, f11);
            var truth = FlowEstimators.ReadFlo(flo);
            if (truth.Size(2) != a.Size(2) || truth.Size(3) != a.Size(3))
                throw new ArgumentException($"'{flo}' is {truth.Size(3)}x{truth.Size(2)} but the frames of {seq} are {a.Size(3)}x{a.Size(2)}.");
            var sw = Stopwatch.StartNew();
            Tensor flow;
            using (GradMode.NoGrad()) flow = estimate(a, b);
            sw.Stop();
            double epe = FlowMetrics.EndpointError(flow, truth);
            if (double.IsNaN(epe))
            {
                output.WriteLine($"{seq,-20} skipped (no pixel of flow10.flo is known)");
                continue;
            }
            epes.Add(epe);
            output.WriteLine($"{seq,-20} {a.Size(3) + "x" + a.Size(2),9} {epe,8:0.000} {sw.Elapsed.TotalMilliseconds,7:0}");
        }
        if (epes.Count == 0)
            throw new InvalidDataException($"'{dir}' has no complete pair: expected other-data/SEQ/frame10.png, frame11.png and other-gt-flow/SEQ/flow10.flo.");
        output.WriteLine($"{"mean (" + epes.Count + " pairs)",-20} {"",9} {epes.Average(),8:0.000}");
        return 0;
    }
}
