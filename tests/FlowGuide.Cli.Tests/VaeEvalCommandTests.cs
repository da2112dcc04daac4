using FlowGuide.Tensors;
using FlowGuide.Training;

namespace FlowGuide.Cli.Tests;

/// <summary><c>flowguide vae eval</c> and the scores behind it (<see cref="VaeEvaluation"/>).</summary>
public sealed class VaeEvalCommandTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "fg-vaeeval-" + Guid.NewGuid().ToString("N")[..8]);

    public void Dispose()
    {
        try { Directory.Delete(_dir, true); } catch (IOException) { }
    }

    private static (int Code, string Out, string Err) Run(params string[] argv) => CliRun.Run(argv);

    /// <summary>A square moving right 2 px per frame over a flat background: [1, 3, 5, 8, 12].</summary>
    private static Tensor MovingSquare()
    {
        var v = Tensor.Full(-0.5f, 1, 3, 5, 8, 12);
        var s = v.Span;
        for (int t = 0; t < 5; t++)
            for (int c = 0; c < 3; c++)
                for (int y = 2; y < 5; y++)
                    for (int x = 2 * t; x < 2 * t + 3; x++) s[((c * 5 + t) * 8 + y) * 12 + x] = 0.8f;
        return v;
    }

    [Fact]
    public void MovingPixelsAreTheSquaresAndASmearLosesMostThere()
    {
        var clip = MovingSquare();
        var mask = VaeEvaluation.MovingMask(clip);
        Assert.True(mask[(0 * 8 + 3) * 12 + 0]);  // frame 0: the square's left column leaves
        Assert.False(mask[(0 * 8 + 7) * 12 + 11]); // background corner never changes
        // a smear: every frame is the clip's temporal mean
        var smear = Tensor.Empty(1, 3, 5, 8, 12);
        var a = clip.Span; var b = smear.Span;
        for (int c = 0; c < 3; c++)
            for (int p = 0; p < 96; p++)
            {
                float m = 0;
                for (int t = 0; t < 5; t++) m += a[(c * 5 + t) * 96 + p];
                for (int t = 0; t < 5; t++) b[(c * 5 + t) * 96 + p] = m / 5;
            }
        var score = VaeEvaluation.Score(3, clip, smear);
        Assert.Equal(3, score.Index);
        Assert.True(score.MovingPsnr < score.Psnr - 5, $"moving {score.MovingPsnr} vs all {score.Psnr}");
        Assert.InRange(score.MovingFraction, 0.05, 0.5);
        var perfect = VaeEvaluation.Score(0, clip, clip.Clone());
        Assert.Equal(120, perfect.Psnr, 6);
        var still = Tensor.Full(0.1f, 3, 4, 4, 4);
        Assert.True(double.IsNaN(VaeEvaluation.Score(0, still, still).MovingPsnr));
        Assert.Throws<ArgumentException>(() => VaeEvaluation.Score(0, clip, Tensor.Zeros(1, 3, 5, 8, 11)));
    }

    [Fact]
    public void CommandPrintsBothPsnrsAndRefusesBadInput()
    {
        var model = TinyModel.Create(Path.Combine(_dir, "model"));
        var (code, output, err) = Run("vae", "eval", "--vae", model, "--clips", "2", "--frames", "5", "--width", "16", "--height", "16");
        Assert.True(code == 0, err);
        Assert.Contains("PSNR (dB)", output);
        Assert.Contains("moving PSNR", output);
        Assert.Contains("test clips 0..1 at 5x16x16", output);
        Assert.Contains("posterior: mean std", output);
        // the breakdowns: each clip is counted once per table
        foreach (var title in new[] { "background", "motion" })
        {
            var lines = output.Split('\n').SkipWhile(l => !l.StartsWith(title + " ", StringComparison.Ordinal)).Skip(1)
                .TakeWhile(l => l.Trim().Length > 0).ToArray();
            Assert.True(lines.Length >= 1, $"no rows under '{title}' in:\n{output}");
            Assert.Equal(2, lines.Sum(l => int.Parse(l[16..].Trim().Split(' ', StringSplitOptions.RemoveEmptyEntries)[0])));
        }
        Assert.Equal(2, Run("vae", "eval", "--vae", model, "--split", "nope").Code);
        Assert.Equal(2, Run("vae", "eval").Code);
        var missing = Run("vae", "eval", "--vae", Path.Combine(_dir, "none"));
        Assert.NotEqual(0, missing.Code);
        Assert.Contains("does not exist", missing.Err);
    }
}
