using System.Globalization;
using System.Text;

namespace FlowGuide.Training.Experiments;

public static partial class FlowLossExperiment
{
    /// <summary>The figures <see cref="WriteSummary"/> writes beside the summary.</summary>
    public static IReadOnlyList<string> FigureFiles { get; } = new[]
    {
        "pred_epe.svg", "pred_world_epe.svg", "sample_motion.svg", "sample_epe.svg", "val_loss.svg", "train_fm_loss.svg", "cost_per_step.svg",
    };

    /// <summary>One variant's rows (every seed's train_log.csv).</summary>
    private sealed record Group(string Name, List<FlowLossRun> Runs, List<List<Dictionary<string, double>>> Logs);

    /// <summary>
    /// Writes <see cref="SummaryFile"/> and <see cref="FigureFiles"/> from whatever the runs' CSV logs hold (finished or
    /// not): motion error at quarters of the run and averaged over all validations, the flow-matching loss, flicker, and
    /// the cost per step of each variant, seeds averaged. Returns the summary's path.
    /// </summary>
    public static string WriteSummary(FlowLossExperimentOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var root = options.Base.OutputDirectory;
        var groups = new List<Group>();
        foreach (var run in Plan(options))
        {
            var g = groups.FirstOrDefault(x => x.Name == run.Name);
            if (g is null) groups.Add(g = new Group(run.Name, new(), new()));
            var csv = Path.Combine(run.Directory, DitTrainer.CsvLogFile);
            if (!File.Exists(csv)) continue;
            g.Runs.Add(run);
            g.Logs.Add(TrainingCsvLog.Read(csv));
        }
        var validator = new FlowValidator(options.Validation, options.Base.Frames, options.Base.Width, options.Base.Height);
        long steps = options.Base.Steps;

        // 1. figures
        void Figure(int index, string title, string yLabel, string metric) =>
            AtomicWrite(Path.Combine(root, FigureFiles[index]), SvgPlot.Lines(title, "step", yLabel, groups.Select(g => new PlotSeries(g.Name, Curve(g, metric))).ToList()));
        Figure(0, "Flow error of the denoised prediction (validation)", "EPE vs estimated flow of the clip (px)", "val_pred_epe");
        Figure(1, "Flow error of the denoised prediction vs the world's flow", "EPE vs world flow (px)", "val_pred_world_epe");
        Figure(2, "Overall-motion error of sampled videos (validation prompts)", "|mean flow - clip's mean flow| (px)", "val_sample_motion");
        Figure(3, "Flow error of sampled videos (validation prompts)", "EPE vs world flow (px)", "val_sample_epe");
        Figure(4, "Flow-matching validation loss (EMA)", "loss", "val_loss");
        int window = (int)Math.Max(1, steps / 50);
        AtomicWrite(Path.Combine(root, FigureFiles[5]), SvgPlot.Lines($"Training flow-matching loss (moving mean over {window} steps)", "step", "loss",
            groups.Select(g => new PlotSeries(g.Name, Smoothed(g, "fm_loss", window))).ToList(), logY: true));
        var cost = groups.Select(g => (g.Name, Mean(g.Logs.SelectMany(l => l).Select(r => Get(r, "step_s"))))).ToList();
        AtomicWrite(Path.Combine(root, FigureFiles[6]), SvgPlot.Bars("Cost per training step (mean over steps)", "seconds per step", cost));

        // 2. the summary
        var sb = new StringBuilder();
        void Line(FormattableString s) => sb.AppendLine(s.ToString(CultureInfo.InvariantCulture));
        sb.AppendLine("# FlowLoss experiment");
        sb.AppendLine();
        Line($"Runs of {steps} steps, seeds {string.Join(", ", options.Seeds)}; curves are means over the seeds that reached each step. Settings (experiment.txt):");
        sb.AppendLine();
        sb.AppendLine("```");
        var settings = Path.Combine(root, SettingsFile);
        if (File.Exists(settings)) sb.Append(File.ReadAllText(settings));
        sb.AppendLine("```");
        sb.AppendLine();
        Line($"Reference on the {options.Validation.Clips} validation clips: a model that learned no motion (a static video) scores prediction EPE {validator.StaticEpe:F3} px against the clips' estimated flow and {validator.StaticWorldEpe:F3} px against their world flow, and overall-motion error {validator.StaticMotionError:F3} px. The estimator on the rendered clips scores {validator.EstimatorWorldEpe:F3} px against the world flow (TV-L1 spreads motion over flat backgrounds), which bounds how low the world-flow errors can go.");
        Line($"Motion is scored on the {(options.Validation.UseEma ? "EMA" : "current training")} weights; the flow-matching validation loss on the EMA weights (decay {options.Base.EmaDecay}).");
        sb.AppendLine();
        var ts = string.Join(", ", options.Validation.Timesteps.Select(t => t.ToString("0.##", CultureInfo.InvariantCulture)));
        MetricTable(sb, groups, steps, "val_pred_epe", "Flow error of the one-step denoised prediction (px, lower is better)",
            $"decoded z_t - t v of each validation clip at t = {ts}; its estimated flow against the clip's estimated flow (the paper's validation flow loss, as an EPE)", "F3");
        MetricTable(sb, groups, steps, "val_pred_world_epe", "The same prediction against the world's exact flow (px)",
            "includes the estimator's own error on the prediction", "F3");
        MetricTable(sb, groups, steps, "val_sample_motion", "Overall-motion error of sampled videos (px, lower is better)",
            $"{options.Validation.SampleSteps} sampling steps from each validation caption; per frame pair, the distance between the mean flow of the sample and of the clip (placement-free)", "F3");
        MetricTable(sb, groups, steps, "val_sample_epe", "Flow error of sampled videos against the world's flow (px)",
            "the caption does not fix where shapes start, so this per-pixel error compares motion only up to placement", "F3");
        MetricTable(sb, groups, steps, "val_sample_flicker", "Temporal flickering of sampled videos (1 = static)", "VBench's score on the same videos", "F4");
        MetricTable(sb, groups, steps, "val_loss", "Flow-matching validation loss (EMA weights)", "mean over the validation noise levels", "F4");

        sb.AppendLine("## Cost per training step");
        sb.AppendLine();
        sb.AppendLine("Seconds per step exclude validation and checkpointing (the mean is the cost: under a gate most steps compute no flow, so the median hides it); `flow share` is the fraction of samples whose flow was computed; `s per flow sample` is the extra time over the baseline per such sample; `flow/fm` compares the flow term with the flow-matching term on steps that computed flow (tune the scale s until it is of order 1).");
        sb.AppendLine();
        sb.AppendLine("| run | steps done | mean s/step | median s/step | vs recon | flow share | s per flow sample | flow/fm |");
        sb.AppendLine("|---|---|---|---|---|---|---|---|");
        double baseCost = cost.FirstOrDefault(c => c.Name == "recon").Item2;
        int batch = options.Base.BatchSize;
        foreach (var g in groups)
        {
            var rows = g.Logs.SelectMany(l => l).ToList();
            double med = Median(rows.Select(r => Get(r, "step_s"))), mean = Mean(rows.Select(r => Get(r, "step_s")));
            double share = rows.Count == 0 ? double.NaN : rows.Sum(r => Get(r, "flow_samples") is var n && double.IsFinite(n) ? n : 0) / ((double)rows.Count * batch);
            double perSample = share > 0 ? (mean - baseCost) / (share * batch) : double.NaN;
            var flowRows = rows.Where(r => Get(r, "flow_samples") > 0).ToList();
            double ratio = flowRows.Count == 0 ? double.NaN : Mean(flowRows.Select(r => Get(r, "flow_loss"))) / Mean(flowRows.Select(r => Get(r, "fm_loss")));
            long done = g.Logs.Count == 0 ? 0 : g.Logs.Min(l => l.Count == 0 ? 0 : (long)l[^1]["step"]);
            Line($"| {g.Name} | {done} | {Cell(mean, "F3")} | {Cell(med, "F3")} | {Cell(mean / baseCost, "F2")}x | {Cell(share, "P0")} | {Cell(perSample, "F2")} | {Cell(ratio, "G3")} |");
        }
        sb.AppendLine();
        sb.AppendLine("## Figures");
        sb.AppendLine();
        foreach (var f in FigureFiles) sb.AppendLine($"![{Path.GetFileNameWithoutExtension(f)}]({f})");
        var path = Path.Combine(root, SummaryFile);
        AtomicWrite(path, sb.ToString());
        return path;
    }

    /// <summary>A markdown table of one validation metric: value at the validations nearest 25/50/75/100% of the run, and the mean over all validations (the area under the curve).</summary>
    private static void MetricTable(StringBuilder sb, List<Group> groups, long steps, string metric, string title, string note, string format)
    {
        sb.AppendLine($"## {title}");
        sb.AppendLine();
        sb.AppendLine(note + ".");
        sb.AppendLine();
        sb.AppendLine("| run | 25% | 50% | 75% | final | mean over validations |");
        sb.AppendLine("|---|---|---|---|---|---|");
        foreach (var g in groups)
        {
            var curve = Curve(g, metric);
            string At(double fraction)
            {
                double target = fraction * steps;
                var hit = curve.Where(p => p.X <= target + 1e-9).OrderBy(p => Math.Abs(p.X - target)).FirstOrDefault((X: double.NaN, Y: double.NaN));
                return Cell(hit.Y, format);
            }
            double auc = curve.Count == 0 ? double.NaN : curve.Average(p => p.Y);
            sb.AppendLine($"| {g.Name} | {At(0.25)} | {At(0.5)} | {At(0.75)} | {At(1.0)} | {Cell(auc, format)} |");
        }
        sb.AppendLine();
    }

    /// <summary>(step, mean over seeds) of a metric at the steps where any seed logged it.</summary>
    private static List<(double X, double Y)> Curve(Group g, string metric) =>
        g.Logs.SelectMany(l => l).Where(r => double.IsFinite(Get(r, metric)))
            .GroupBy(r => r["step"]).OrderBy(s => s.Key)
            .Select(s => (s.Key, s.Average(r => r[metric]))).ToList();

    /// <summary>Trailing moving mean of a per-step metric for each seed, then averaged over seeds per step.</summary>
    private static List<(double X, double Y)> Smoothed(Group g, string metric, int window)
    {
        var perStep = new SortedDictionary<double, List<double>>();
        foreach (var log in g.Logs)
        {
            var q = new Queue<double>();
            double sum = 0;
            foreach (var r in log)
            {
                double v = Get(r, metric);
                if (!double.IsFinite(v)) continue;
                q.Enqueue(v);
                sum += v;
                if (q.Count > window) sum -= q.Dequeue();
                if (!perStep.TryGetValue(r["step"], out var list)) perStep[r["step"]] = list = new();
                list.Add(sum / q.Count);
            }
        }
        return perStep.Select(kv => (kv.Key, kv.Value.Average())).ToList();
    }

    private static double Get(Dictionary<string, double> row, string key) => row.TryGetValue(key, out var v) ? v : double.NaN;

    private static double Mean(IEnumerable<double> xs)
    {
        var v = xs.Where(double.IsFinite).ToList();
        return v.Count == 0 ? double.NaN : v.Average();
    }

    private static double Median(IEnumerable<double> xs)
    {
        var v = xs.Where(double.IsFinite).OrderBy(x => x).ToList();
        if (v.Count == 0) return double.NaN;
        return v.Count % 2 == 1 ? v[v.Count / 2] : 0.5 * (v[v.Count / 2 - 1] + v[v.Count / 2]);
    }

    private static string Cell(double v, string format) => double.IsFinite(v) ? v.ToString(format, CultureInfo.InvariantCulture) : "–";
}
