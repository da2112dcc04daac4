using FlowGuide.Media;
using FlowGuide.Models.Flow;
using FlowGuide.Tensors;

namespace FlowGuide.Cli.Tests;

/// <summary><c>flowguide flow</c> and <c>flowguide flow eval</c> on the mmflow sample pairs, and their one-line errors.</summary>
public sealed class FlowCommandTests : IDisposable
{
    private readonly string _tmp = Directory.CreateTempSubdirectory("flowguide-flowcli-").FullName;

    public void Dispose() => Directory.Delete(_tmp, recursive: true);

    private static (int Code, string Out, string Err) Run(params string[] argv) => CliRun.Run(argv);

    /// <summary>../shared/data/flow/mmflow (see <see cref="FlowGuide.TestSupport.RepoPaths"/>).</summary>
    private static string Mmflow()
    {
        var p = FlowGuide.TestSupport.RepoPaths.SharedData(Path.Combine("flow", "mmflow"));
        Assert.True(Directory.Exists(p), $"shared data folder {p} not found");
        return p;
    }

    private static string M(string name) => Path.Combine(Mmflow(), name);

    private static void AssertOneLine(string err, string contains)
    {
        Assert.Contains(contains, err);
        Assert.Single(err.Trim().Split('\n'));
    }

    [Fact]
    public void FlowWritesFloAndPng()
    {
        var flo = Path.Combine(_tmp, "f.flo");
        var png = Path.Combine(_tmp, "f.png");
        var (code, output, err) = Run("flow", M("00001_img1.ppm"), M("00001_img2.ppm"), "--out", flo, "--png", png, "--max-magnitude", "10");
        Assert.True(code == 0, err);
        Assert.Contains("50x50", output);
        var flow = FlowIO.ReadFlo(flo);
        Assert.Equal(new Shape(1, 2, 50, 50), flow.Shape);
        var gt = FlowIO.ReadFlo(M("00001_flow.flo"));
        double epe = FlowMetrics.EndpointError(flow, gt), zero = FlowMetrics.EndpointError(Tensor.Zeros(1, 2, 50, 50), gt);
        Assert.True(epe < zero, $"EPE {epe} should beat the zero flow's {zero}");
        var vis = ImageIO.Read(png);
        Assert.Equal((50, 50), (vis.Width, vis.Height));
    }

    [Fact]
    public void EvalPrintsPerPairAndMean()
    {
        // Middlebury layout from the two mmflow pairs (the PPM pair re-encoded as PNG).
        Pair("chairs", M("00001_img1.ppm"), M("00001_img2.ppm"), M("00001_flow.flo"));
        Pair("things", M("0000000-img_0.png"), M("0000000-img_1.png"), M("0000000-flow_01.flo"));
        Directory.CreateDirectory(Path.Combine(_tmp, "other-data", "nogt"));
        var (code, output, err) = Run("flow", "eval", _tmp);
        Assert.True(code == 0, err);
        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Contains(lines, l => l.StartsWith("chairs") && l.Contains("50x50"));
        Assert.Contains(lines, l => l.StartsWith("things"));
        Assert.Contains(lines, l => l.StartsWith("nogt") && l.Contains("skipped"));
        var mean = lines.Single(l => l.StartsWith("mean (2 pairs)"));
        double m = double.Parse(mean.Split(' ', StringSplitOptions.RemoveEmptyEntries)[^1], System.Globalization.CultureInfo.InvariantCulture);
        Assert.True(m > 0 && m < 20, mean);
    }

    private void Pair(string seq, string a, string b, string flo)
    {
        var d = Directory.CreateDirectory(Path.Combine(_tmp, "other-data", seq)).FullName;
        ImageIO.Write(Path.Combine(d, "frame10.png"), ImageIO.Read(a));
        ImageIO.Write(Path.Combine(d, "frame11.png"), ImageIO.Read(b));
        var g = Directory.CreateDirectory(Path.Combine(_tmp, "other-gt-flow", seq)).FullName;
        File.Copy(flo, Path.Combine(g, "flow10.flo"));
    }

    [Fact]
    public void FramesOfDifferentSizesAreOneLineErrors()
    {
        var small = Path.Combine(_tmp, "small.png");
        var f = ImageIO.Read(M("00001_img1.ppm"));
        var px = new byte[20 * 10 * 3];
        ImageIO.Write(small, new RgbFrame(20, 10, px));
        var (code, _, err) = Run("flow", M("00001_img1.ppm"), small, "--out", Path.Combine(_tmp, "x.flo"));
        Assert.Equal(1, code);
        AssertOneLine(err, "frames differ in size");
        Assert.Contains("20x10", err);
        Assert.Equal(50, f.Width);
    }

    [Fact]
    public void UndecodableImageIsAOneLineError()
    {
        var bad = Path.Combine(_tmp, "bad.png");
        File.WriteAllBytes(bad, "not an image at all"u8.ToArray());
        var (code, _, err) = Run("flow", bad, M("00001_img2.ppm"), "--out", Path.Combine(_tmp, "x.flo"));
        Assert.Equal(1, code);
        AssertOneLine(err, "bad.png");
        (code, _, err) = Run("flow", Path.Combine(_tmp, "missing.png"), M("00001_img2.ppm"), "--out", Path.Combine(_tmp, "x.flo"));
        Assert.Equal(1, code);
        AssertOneLine(err, "not found");
    }

    [Fact]
    public void TruncatedOrWrongMagicFloIsAOneLineError()
    {
        Pair("chairs", M("00001_img1.ppm"), M("00001_img2.ppm"), M("00001_flow.flo"));
        var flo = Path.Combine(_tmp, "other-gt-flow", "chairs", "flow10.flo");
        var bytes = File.ReadAllBytes(flo);
        File.WriteAllBytes(flo, bytes[..(bytes.Length / 2)]);
        var (code, _, err) = Run("flow", "eval", _tmp);
        Assert.Equal(1, code);
        AssertOneLine(err, "truncated");
        bytes[0] ^= 0xFF;
        File.WriteAllBytes(flo, bytes);
        (code, _, err) = Run("flow", "eval", _tmp);
        Assert.Equal(1, code);
        AssertOneLine(err, "tag");
    }

    [Fact]
    public void MissingFoldersAreOneLineErrors()
    {
        var (code, _, err) = Run("flow", "eval", Path.Combine(_tmp, "nowhere"));
        Assert.Equal(1, code);
        AssertOneLine(err, "not found");
        (code, _, err) = Run("flow", "eval", _tmp);
        Assert.Equal(1, code);
        AssertOneLine(err, "other-data");
    }

    [Fact]
    public void LearnedWithoutWeightsNamesTheWeightsFile()
    {
        var missing = Path.Combine(_tmp, "none", "raft-small.safetensors");
        var (code, _, err) = Run("flow", M("00001_img1.ppm"), M("00001_img2.ppm"), "--out", Path.Combine(_tmp, "x.flo"), "--method", "learned", "--weights", missing);
        Assert.Equal(1, code);
        AssertOneLine(err, "raft-small.safetensors");
        Assert.Contains("weights", err);
    }

    [Fact]
    public void LearnedFindsTheShippedWeightsByDefault()
    {
        Assert.True(File.Exists(FlowEstimators.FindLearnedWeights()), $"shipped weights not found at {FlowEstimators.FindLearnedWeights()}");
        var flo = Path.Combine(_tmp, "learned.flo");
        var (code, _, err) = Run("flow", M("00001_img1.ppm"), M("00001_img2.ppm"), "--out", flo, "--method", "learned");
        Assert.True(code == 0, err);
        var flow = FlowIO.ReadFlo(flo);
        Assert.Equal(FlowIO.ReadFlo(M("00001_flow.flo")).Shape, flow.Shape);
        foreach (var v in flow.Span) Assert.True(float.IsFinite(v));
    }

    [Fact]
    public void UsageMistakesExitWith2()
    {
        Assert.Equal(2, Run("flow", M("00001_img1.ppm"), M("00001_img2.ppm")).Code); // no --out
        Assert.Equal(2, Run("flow", M("00001_img1.ppm"), "--out", Path.Combine(_tmp, "x.flo")).Code); // one frame
        var (code, _, err) = Run("flow", M("00001_img1.ppm"), M("00001_img2.ppm"), "--out", Path.Combine(_tmp, "x.flo"), "--method", "magic");
        Assert.Equal(2, code);
        Assert.Contains("--method", err);
    }
}
