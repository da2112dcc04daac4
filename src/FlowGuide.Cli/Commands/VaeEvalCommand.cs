using System.Globalization;
using FlowGuide.Cli.Eval;
using FlowGuide.Models.Video;
using FlowGuide.Training;

namespace FlowGuide.Cli;

/// <summary><c>flowguide vae eval</c>: reconstruction PSNR of a VAE folder on motion-world clips, all pixels and moving ones.</summary>
public sealed class VaeEvalCommand : Command
{
    public override string Name => "vae eval";
    public override string Summary => "reconstruction PSNR of a VAE on motion-world clips (all pixels and the pixels that move)";
    public override string Usage =>
        "flowguide vae eval --vae DIR [--split test|heldout|validation|train] [--first N] [--clips N] [--frames N --width N --height N]\n\n" +
        "Encodes (posterior mean) and decodes clips FIRST .. FIRST+CLIPS-1 of the split (default test, 0, 32, 17x64x64) and\n" +
        "prints PSNR over all pixels and over the pixels that change from frame to frame (a channel differs from the\n" +
        "previous or next frame by more than 0.05 of the [-1, 1] range): the still background dominates the first, a\n" +
        "decoder that smears moving shapes shows in the second. DIR is a VAE folder or a model folder with a vae/ inside.";

    public override int Run(Args args, TextWriter output, CancellationToken cancel)
    {
        var dir = args.String("vae") ?? throw new UsageException("give --vae DIR (a VAE folder or a model folder)");
        var splitText = args.String("split", "test").ToLowerInvariant();
        var split = TransferJobs.ParseSplit(splitText)
            ?? throw new UsageException($"--split must be test, heldout, validation or train, got '{splitText}'");
        long first = args.Int("first", 0);
        int clips = args.Int("clips", 32), frames = args.Int("frames", 17), width = args.Int("width", 64), height = args.Int("height", 64);
        if (first < 0) throw new UsageException($"--first must be >= 0, got {first}");
        if (clips < 1) throw new UsageException($"--clips must be at least 1, got {clips}");
        args.EnsureAllUsed(0);
        if (!Directory.Exists(dir)) throw new DirectoryNotFoundException($"VAE folder '{dir}' does not exist.");
        var vaeDir = File.Exists(Path.Combine(dir, "config.json")) ? dir : Path.Combine(dir, "vae");
        if (!File.Exists(Path.Combine(vaeDir, "config.json")))
            throw new FileNotFoundException($"'{dir}' holds no VAE: expected config.json in it or in its vae/ folder.");
        var vae = VideoAutoencoders.LoadFrozen(vaeDir);

        var scores = VaeEvaluation.Evaluate(vae, split, first, clips, frames, width, height, cancel);
        static string F(double v) => v.ToString("F2", CultureInfo.InvariantCulture);
        static (double Mean, double Median, double Min, double Max) Stats(IEnumerable<double> values)
        {
            var v = values.Where(double.IsFinite).OrderBy(x => x).ToArray();
            return v.Length == 0 ? (double.NaN, double.NaN, double.NaN, double.NaN) : (v.Average(), v[v.Length / 2], v[0], v[^1]);
        }
        var all = Stats(scores.Select(s => s.Psnr));
        var moving = Stats(scores.Select(s => s.MovingPsnr));
        output.WriteLine($"vae eval: {vaeDir}, {splitText} clips {first}..{first + clips - 1} at {frames}x{height}x{width}");
        output.WriteLine($"{"",-16} {"mean",7} {"median",7} {"min",7} {"max",7}");
        output.WriteLine($"{"PSNR (dB)",-16} {F(all.Mean),7} {F(all.Median),7} {F(all.Min),7} {F(all.Max),7}");
        output.WriteLine($"{"moving PSNR",-16} {F(moving.Mean),7} {F(moving.Median),7} {F(moving.Min),7} {F(moving.Max),7}");
        output.WriteLine($"moving pixels: {(scores.Average(s => s.MovingFraction) * 100).ToString("F1", CultureInfo.InvariantCulture)}% on average; {scores.Count(s => double.IsNaN(s.MovingPsnr))} clip(s) without any");

        if (scores.All(c => c.Posterior is not null))
        {
            // how noisy the training-time latent sample is: posterior std against the spread of the posterior means
            var (std, spread) = PosteriorStats.Pool(scores.Select(c => c.Posterior!).ToArray());
            output.WriteLine($"posterior: mean std {std.ToString("G3", CultureInfo.InvariantCulture)} against a spread of the means of {spread.ToString("G3", CultureInfo.InvariantCulture)} (raw latent space, {scores.Count} clips)");
        }

        // where the error is: by background pattern and by what moves (camera pan, the subject's speed)
        var specs = scores.ToDictionary(s => s.Index, s => FlowGuide.Training.World.MotionWorld.Sample(s.Index, split, frames, width, height));
        string Motion(long i)
        {
            var spec = specs[i];
            if (spec.Pan is not null) return "camera pan";
            var m = spec.Shapes[spec.Subject].Motion;
            return m.Kind == FlowGuide.Training.World.MotionKind.Still ? "still subject" : $"{m.Speed.ToString().ToLowerInvariant()} subject";
        }
        void Breakdown(string title, Func<long, string> key)
        {
            output.WriteLine();
            output.WriteLine($"{title,-16} {"clips",5} {"PSNR",7} {"moving",7}");
            foreach (var g in scores.GroupBy(s => key(s.Index)).OrderBy(g => g.Key, StringComparer.Ordinal))
                output.WriteLine($"{g.Key,-16} {g.Count(),5} {F(g.Average(s => s.Psnr)),7} {F(Stats(g.Select(s => s.MovingPsnr)).Mean),7}");
        }
        Breakdown("background", i => specs[i].Background.Kind.ToString().ToLowerInvariant());
        Breakdown("motion", Motion);
        return 0;
    }
}
