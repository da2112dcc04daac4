using System.Diagnostics;
using FlowGuide.Media;
using FlowGuide.Tensors;
using FlowGuide.TestSupport;

namespace FlowGuide.Cli.Tests;

/// <summary><c>flowguide transfer</c> on a tiny random model folder: methods, metadata, determinism, and one-line errors with no leftovers.</summary>
public sealed class TransferCommandTests : IDisposable
{
    private const string Prompt = "a red circle moves left across a striped background";
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "fg-tr-" + Guid.NewGuid().ToString("N")[..8]);
    private readonly string _model;
    private readonly string _in;     // test inputs: sources, broken files
    private readonly string _source;

    public TransferCommandTests()
    {
        Directory.CreateDirectory(_dir);
        _model = TinyModel.Create(Path.Combine(_dir, "model"));
        _in = Directory.CreateDirectory(Path.Combine(_dir, "in")).FullName;
        _source = Path.Combine(_in, "source.y4m");
        VideoIO.Write(_source, MovingSquare(9), 12);
    }

    public void Dispose()
    {
        try { Directory.Delete(_dir, true); } catch (IOException) { }
    }

    /// <summary>A white square moving right on black, [3, frames, 20, 24].</summary>
    private static Tensor MovingSquare(int frames)
    {
        var v = Tensor.Full(-1f, 3, frames, 20, 24);
        for (int c = 0; c < 3; c++)
            for (int f = 0; f < frames; f++)
                for (int y = 6; y < 14; y++)
                    for (int x = 2 + f; x < 10 + f; x++) v[c, f, y, x] = 1f;
        return v;
    }

    private static (int Code, string Out, string Err) Run(params string[] argv) => CliRun.Run(argv);

    private (int Code, string Out, string Err) Transfer(string outPath, params string[] extra) =>
        Run(new[] { "transfer", "--source", _source, "--prompt", Prompt, "--model", _model, "--out", outPath, "--seed", "7", "--steps", "4" }
            .Concat(extra).ToArray());

    /// <summary>Files under the test folder other than the model and the inputs (what a run left behind).</summary>
    private string[] Leftovers() => Directory.GetFileSystemEntries(_dir).Where(p => Path.GetFileName(p) is not ("model" or "in")).ToArray();

    private void AssertFailsCleanly((int Code, string Out, string Err) r, int code, params string[] expected)
    {
        Assert.Equal(code, r.Code);
        Assert.Single(r.Err.Trim().Split('\n'));
        foreach (var s in expected) Assert.Contains(s, r.Err);
        Assert.Empty(Leftovers());
    }

    [Fact]
    public void FlowMotionRunsIsRecordedAndIsReproducible()
    {
        var a = Path.Combine(_dir, "a.gif");
        var r = Transfer(a, "--guided-steps", "2");
        Assert.True(r.Code == 0, r.Err);
        Assert.Contains("method flowmotion", r.Out);
        Assert.Contains("peak tensor memory", r.Out);
        var meta = File.ReadAllText(a + ".json");
        foreach (var s in new[] { "\"generator\": \"flowguide transfer\"", "\"name\": \"flowmotion\"", "\"mode\": \"latent-prediction\"",
                     "\"alpha\": 20", "\"beta\": 5", "\"gamma\": 0.1", "\"learning_rate\": 0.003", "\"iterations\": 3", "\"guided_steps\": \"2\"",
                     "\"difference_alignment\": true", "\"velocity_regularization\": true", "\"frame_sampling\": \"uniform\"", "\"fit\": \"crop\"", "source.y4m" })
            Assert.Contains(s, meta);
        var b = Path.Combine(_dir, "b.gif");
        Assert.Equal(0, Transfer(b, "--guided-steps", "2").Code);
        Assert.Equal(File.ReadAllBytes(a), File.ReadAllBytes(b));
    }

    [Fact]
    public void AblationsAndBaselinesDifferAndPlainEqualsGenerate()
    {
        string Out(string name, params string[] extra)
        {
            var path = Path.Combine(_dir, name);
            var r = Transfer(path, extra);
            Assert.True(r.Code == 0, r.Err);
            return path;
        }
        // 13 frames = 4 latent frames, so difference alignment has pairs to work on; a large lr so the change shows in 8-bit frames
        var common = new[] { "--frames", "13", "--guided-steps", "3", "--lr", "0.2", "--mode", "clean-latent" };
        var full = Out("full.gif", common);
        var noDa = Out("noda.gif", common.Append("--no-difference-alignment").ToArray());
        var noVr = Out("novr.gif", common.Append("--no-velocity-regularization").ToArray());
        var noised = Out("noised.gif", "--frames", "13", "--baseline", "noised-source", "--strength", "0.5");
        var plain = Out("plain.gif", "--frames", "13", "--baseline", "plain");
        var files = new[] { full, noDa, noVr, noised, plain }.Select(File.ReadAllBytes).ToArray();
        for (int i = 0; i < files.Length; i++)
            for (int j = i + 1; j < files.Length; j++) Assert.NotEqual(files[i], files[j]);
        Assert.Contains("\"difference_alignment\": false", File.ReadAllText(noDa + ".json"));
        Assert.Contains("\"velocity_regularization\": false", File.ReadAllText(noVr + ".json"));
        var noisedMeta = File.ReadAllText(noised + ".json");
        Assert.Contains("\"name\": \"noised-source\"", noisedMeta);
        Assert.Contains("\"start_step\": 2", noisedMeta);
        // plain transfer is plain generation with the same model, seed and settings
        var generated = Path.Combine(_dir, "generated.gif");
        Assert.Equal(0, Run("generate", "--prompt", Prompt, "--model", _model, "--out", generated, "--seed", "7", "--steps", "4", "--frames", "13").Code);
        Assert.Equal(File.ReadAllBytes(generated), File.ReadAllBytes(plain));
    }

    [Fact]
    public void ShortSourceIsStretchedWithAWarningAndThePreparedSourceCanBeSaved()
    {
        var shortClip = Path.Combine(_in, "short");
        VideoIO.Write(shortClip + Path.DirectorySeparatorChar, MovingSquare(3), 12);
        var outPath = Path.Combine(_dir, "s.gif");
        var saved = Path.Combine(_dir, "prepared.y4m");
        var r = Run("transfer", "--source", shortClip, "--prompt", Prompt, "--model", _model, "--out", outPath, "--seed", "7", "--steps", "2",
            "--frames", "9", "--frame-sampling", "first", "--fit", "pad", "--save-source", saved);
        Assert.True(r.Code == 0, r.Err);
        var meta = File.ReadAllText(outPath + ".json");
        Assert.Contains("has 3 frames, fewer than the 9", meta);
        Assert.Contains("\"fit\": \"pad\"", meta);
        var prepared = VideoIO.ReadFrames(saved);
        Assert.Equal((9, 16, 16), (prepared.FrameCount, prepared.Width, prepared.Height));
        Assert.Contains("prepared source", File.ReadAllText(saved + ".json"));
    }

    [Theory]
    [InlineData("--mode", "optical")]
    [InlineData("--fit", "zoom")]
    [InlineData("--frame-sampling", "random")]
    [InlineData("--guided-steps", "ten")]
    [InlineData("--guided-steps", "1.5")]
    [InlineData("--alpha", "-1")]
    [InlineData("--iterations", "0")]
    [InlineData("--strength", "0.5")]     // needs --baseline noised-source
    [InlineData("--baseline", "sdedit")]
    public void BadOptionsAreUsageErrors(string option, string value) =>
        AssertFailsCleanly(Transfer(Path.Combine(_dir, "x.gif"), option, value), 2, option.TrimStart('-'));

    [Fact]
    public void FlowMotionSettingsWithABaselineAndMissingArgumentsAreUsageErrors()
    {
        AssertFailsCleanly(Transfer(Path.Combine(_dir, "x.gif"), "--baseline", "plain", "--alpha", "3"), 2, "--alpha", "FlowMotion setting");
        AssertFailsCleanly(Transfer(Path.Combine(_dir, "x.gif"), "--baseline", "noised-source", "--no-velocity-regularization"), 2, "--no-velocity-regularization");
        AssertFailsCleanly(Run("transfer", "--prompt", Prompt, "--model", _model), 2, "--source is required");
        AssertFailsCleanly(Run("transfer", "--source", _source, "--model", _model), 2, "--prompt is required");
    }

    [Fact]
    public void UnreadableAndMissingSourcesNameTheFile()
    {
        var broken = Path.Combine(_in, "broken.y4m");
        File.WriteAllText(broken, "YUV4MPEG2 W16 H16 F12:1\nFRAME\nshort");
        var r = Run("transfer", "--source", broken, "--prompt", Prompt, "--model", _model, "--out", Path.Combine(_dir, "x.gif"));
        AssertFailsCleanly(r, 1, "broken.y4m");
        var missing = Path.Combine(_in, "nope.mov");
        AssertFailsCleanly(Run("transfer", "--source", missing, "--prompt", Prompt, "--model", _model, "--out", Path.Combine(_dir, "x.gif")), 1, "nope.mov", "not found");
        var still = Path.Combine(_in, "still.y4m");
        VideoIO.Write(still, MovingSquare(1), 12);
        AssertFailsCleanly(Run("transfer", "--source", still, "--prompt", Prompt, "--model", _model, "--out", Path.Combine(_dir, "x.gif")), 1, "still.y4m", "at least 2 frames");
    }

    [Fact]
    public void MissingFfmpegIsNamedWithTheFile()
    {
        // ffmpeg is found once per process, so run the CLI in a child process that cannot find it
        var mp4 = Path.Combine(_in, "clip.mp4");
        File.WriteAllBytes(mp4, new byte[64]);
        var psi = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet")
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
        };
        foreach (var a in new[] { typeof(Cli).Assembly.Location, "transfer", "--source", mp4, "--prompt", Prompt, "--model", _model, "--out", Path.Combine(_dir, "x.gif") })
            psi.ArgumentList.Add(a);
        psi.Environment["FFMPEG_PATH"] = Path.Combine(_dir, "no-ffmpeg");
        psi.Environment["FFPROBE_PATH"] = Path.Combine(_dir, "no-ffprobe");
        using var p = Process.Start(psi)!;
        var err = p.StandardError.ReadToEnd();
        p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        Assert.Equal(1, p.ExitCode);
        Assert.Single(err.Trim().Split('\n'));
        Assert.Contains("clip.mp4", err);
        Assert.Contains("ffmpeg not found", err);
        Assert.False(File.Exists(Path.Combine(_dir, "x.gif")));
    }

    [Fact]
    public void ReadsAnMp4ThroughFfmpeg()
    {
        var mp4 = RepoPaths.SharedData("video/cutie-example.mp4");
        if (!Ffmpeg.IsAvailable || !File.Exists(mp4)) return; // nothing to show without ffmpeg or the shared clip
        var outPath = Path.Combine(_dir, "cutie.gif");
        var r = Run("transfer", "--source", mp4, "--prompt", Prompt, "--model", _model, "--out", outPath, "--seed", "1", "--steps", "2", "--mode", "clean-latent");
        Assert.True(r.Code == 0, r.Err);
        var meta = File.ReadAllText(outPath + ".json");
        Assert.Contains("\"frames\": 117", meta);
        Assert.Contains("\"width\": 640", meta);
    }
}
