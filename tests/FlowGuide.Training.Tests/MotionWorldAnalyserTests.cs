using System.Text;
using FlowGuide.Training.World.Analysis;
using FlowGuide.Tensors;
using FlowGuide.Training.World;
using Xunit.Abstractions;

namespace FlowGuide.Training.Tests;

/// <summary>The motion-world analyser on the world's own ground-truth clips, where every answer is known.</summary>
public class MotionWorldAnalyserTests(ITestOutputHelper output)
{
    /// <summary>Test-split clips the rate test renders (17 frames of 64 x 64, the shipped model's size).</summary>
    private const int Clips = 160;

    [Fact]
    public void FindsColourAndMotionOnGroundTruthTestClips()
    {
        var analyser = MotionWorldAnalyser.Default;
        int colour = 0, motion = 0, shape = 0, shapeGuessed = 0;
        var perClass = new Dictionary<string, (int N, int Ok)>();
        var failures = new StringBuilder();
        for (int i = 0; i < Clips; i++)
        {
            var clip = MotionWorld.Generate(i, WorldSplit.Test);
            var a = analyser.Analyse(clip.Video, clip.Caption);
            string cls = a.Prompt.Pan is not null ? "pan" : a.Prompt.Motion.ToString();
            var (n, ok) = perClass.GetValueOrDefault(cls);
            perClass[cls] = (n + 1, ok + (a.MotionAgrees ? 1 : 0));
            if (a.ColourFound) colour++;
            if (a.MotionAgrees) motion++;
            if (a.ShapeGuess is not null) { shapeGuessed++; if (a.ShapeAgrees) shape++; }
            if (!a.ColourFound || !a.MotionAgrees)
                failures.AppendLine($"  clip {i}: '{clip.Caption}': colour {a.ColourFound} ({a.PresentFraction:F2}), motion {a.MotionAgrees}: {a.Observed}");
        }
        double colourRate = (double)colour / Clips, motionRate = (double)motion / Clips;
        string summary = $"test split, {Clips} clips: colour found {colourRate:P1}, motion agrees {motionRate:P1}, " +
                         $"shape guessed right {shape}/{shapeGuessed}; per motion: " +
                         string.Join(", ", perClass.OrderBy(k => k.Key).Select(k => $"{k.Key} {k.Value.Ok}/{k.Value.N}"));
        output.WriteLine(summary);
        output.WriteLine(failures.ToString());
        Assert.True(colourRate >= 0.95, summary);
        Assert.True(motionRate >= 0.90, summary);
    }

    [Fact]
    public void ParsesEveryCaptionTheWorldWrites()
    {
        int pans = 0;
        foreach (var split in Enum.GetValues<WorldSplit>())
            for (int i = 0; i < 1500; i++)
            {
                var spec = MotionWorld.Sample(i, split);
                string caption = CaptionGrammar.Describe(spec);
                var p = WorldPrompt.Parse(caption);
                var subject = spec.Shapes[spec.Subject];
                Assert.Equal(new PromptShape(subject.Color, subject.Kind, subject.Size), p.Subject);
                Assert.Equal(spec.Shapes.Count - 1, p.Companions.Count);
                Assert.Equal(spec.Background.Kind, p.Background);
                Assert.Equal(spec.Background.Kind == BackgroundKind.Plain ? spec.Background.Color : null, p.BackgroundColor);
                if (spec.Pan is { } pan)
                {
                    pans++;
                    Assert.Equal(CaptionGrammar.DirectionOf(pan.VelocityX, pan.VelocityY), p.Pan);
                    Assert.Equal(MotionClass.Still, p.Motion);
                    Assert.Equal(WorldPrompt.Opposite(p.Pan!.Value), p.ScreenDirection);
                }
                else
                {
                    Assert.Null(p.Pan);
                    Assert.Equal(CaptionGrammar.ClassOf(subject), p.Motion);
                    Assert.Equal(p.Motion == MotionClass.Still ? null : subject.Motion.Speed, p.Speed);
                }
            }
        Assert.True(pans > 100, $"only {pans} pans sampled");
    }

    [Theory]
    [InlineData("a red hexagon slowly moves left across a striped background", "word 3 ('hexagon')")]
    [InlineData("a red circle slowly moves left across a striped background please", "the end of the prompt at word 11 ('please')")]
    [InlineData("a red circle slowly moves left across a", "the prompt ended")]
    [InlineData("a red circle moves left across a striped background", "'slowly' or 'quickly' before the verb")]
    [InlineData("a red circle slowly stays still on a plain black background", "'stays still' after an adverb")]
    [InlineData("a red circle slowly moves sideways across a striped background", "a direction")]
    [InlineData("a black circle slowly grows on a plain white background", "a shape colour")]
    [InlineData("", "the camera")]
    public void RejectsPromptsOutsideTheGrammarNamingTheWord(string prompt, string expected)
    {
        Assert.False(WorldPrompt.TryParse(prompt, out var result, out var error));
        Assert.Null(result);
        Assert.Contains(expected, error);
        Assert.Contains(expected, Assert.Throws<ArgumentException>(() => WorldPrompt.Parse(prompt)).Message);
    }

    [Fact]
    public void ParsesDiagonalsPansAndCompanions()
    {
        var p = WorldPrompt.Parse("the camera quickly pans up and left over a large cyan star and a red ring on a textured background");
        Assert.Equal(Direction.UpLeft, p.Pan);
        Assert.Equal(Direction.DownRight, p.ScreenDirection);
        Assert.Equal(new PromptShape(ColorName.Cyan, ShapeKind.Star, SizeClass.Large), p.Subject);
        Assert.Equal(new[] { new PromptShape(ColorName.Red, ShapeKind.Ring, SizeClass.Medium) }, p.Companions);
        Assert.Equal(BackgroundKind.Noise, p.Background);
        var q = WorldPrompt.Parse("an orange diamond slowly moves down and right past a blue square and a small green circle across a plain gray background");
        Assert.Equal(MotionClass.MoveDownRight, q.Motion);
        Assert.Equal(Direction.DownRight, q.ScreenDirection);
        Assert.Equal(2, q.Companions.Count);
        Assert.Equal(ColorName.Gray, q.BackgroundColor);
    }

    [Fact]
    public void WrongDirectionAndAbsentColourAreRejected()
    {
        // the first test clips that move in a straight line: the opposite direction and a missing colour must fail
        int checkedClips = 0;
        for (int i = 0; checkedClips < 6; i++)
        {
            var clip = MotionWorld.Generate(i, WorldSplit.Test);
            var p = WorldPrompt.Parse(clip.Caption);
            if (p.Pan is not null || p.Motion > MotionClass.MoveDownRight) continue;
            checkedClips++;
            var right = MotionWorldAnalyser.Default.Analyse(clip.Video, p);
            var opposite = p with { Motion = (MotionClass)(int)WorldPrompt.Opposite(p.ScreenDirection!.Value) };
            var wrong = MotionWorldAnalyser.Default.Analyse(clip.Video, opposite);
            var used = clip.Spec.Shapes.Select(s => s.Color).ToHashSet();
            var absent = Palette.ShapeColors.First(c => !used.Contains(c) && c != ColorName.White);
            var missing = MotionWorldAnalyser.Default.Analyse(clip.Video, p with { Subject = p.Subject with { Color = absent } });
            output.WriteLine($"'{clip.Caption}': {right.Observed}; as {opposite.Motion}: {wrong.MotionAgrees}; as {absent}: found {missing.ColourFound}");
            Assert.True(right.MotionAgrees, right.Observed);
            Assert.False(wrong.MotionAgrees, wrong.Observed);
            Assert.False(missing.ColourFound);
            Assert.False(missing.MotionAgrees);
        }
    }

    [Fact]
    public void StillCircleIsStableAndFlickerRaisesTheStabilityScores()
    {
        var circle = new ShapeSpec { Kind = ShapeKind.Circle, Color = ColorName.Red, Radius = 0.14, CenterX = 0.5, CenterY = 0.5 };
        var spec = new ClipSpec { Seed = 1, Frames = 9, Width = 48, Height = 48, Shapes = new[] { circle } };
        var still = MotionWorld.Render(spec);
        var bigger = MotionWorld.Render(spec with { Shapes = new[] { circle with { Radius = 0.18 } } });
        const string prompt = "a large red circle stays still on a plain black background";
        var a = MotionWorldAnalyser.Default.Analyse(still.Video, prompt);
        Assert.True(a.ColourFound && a.MotionAgrees, a.Observed);
        Assert.Equal(ShapeKind.Circle, a.ShapeGuess);
        Assert.Equal(0, a.AreaCv, 9);
        Assert.Equal(0, a.ColourCv, 9);
        Assert.Equal(0, a.AreaJitter, 9);

        // alternate frames from the larger circle: the area flickers
        var flicker = Interleave(still.Video, bigger.Video);
        var b = MotionWorldAnalyser.Default.Analyse(flicker, prompt);
        output.WriteLine($"still: area cv {a.AreaCv:F3}, jitter {a.AreaJitter:F3}; size flicker: area cv {b.AreaCv:F3}, jitter {b.AreaJitter:F3}");
        Assert.True(b.AreaCv > 0.15 && b.AreaJitter > 0.3, $"area cv {b.AreaCv}, jitter {b.AreaJitter}");

        // odd frames darkened by 20%: the colour flickers
        var dark = still.Video.Clone();
        var d = dark.Span;
        int plane = 48 * 48;
        for (int c = 0; c < 3; c++)
            for (int t = 1; t < 9; t += 2)
                for (int i = 0; i < plane; i++) d[(c * 9 + t) * plane + i] = (d[(c * 9 + t) * plane + i] + 1) * 0.8f - 1;
        var e = MotionWorldAnalyser.Default.Analyse(dark, prompt);
        output.WriteLine($"colour flicker: colour cv {e.ColourCv:F3}");
        Assert.True(e.ColourCv > 0.05, $"colour cv {e.ColourCv}");
    }

    [Fact]
    public void ShapeGuessesOnLargeStillShapes()
    {
        foreach (var kind in Enum.GetValues<ShapeKind>())
        {
            var shape = new ShapeSpec { Kind = kind, Color = ColorName.Yellow, Radius = 0.2, CenterX = 0.5, CenterY = 0.5, Angle = 0.3 };
            var clip = MotionWorld.Render(new ClipSpec { Seed = 2, Frames = 3, Width = 64, Height = 64, Shapes = new[] { shape } });
            var a = MotionWorldAnalyser.Default.Analyse(clip.Video, $"a yellow {kind.Word()} stays still on a plain black background");
            Assert.Equal(kind, a.ShapeGuess);
        }
    }

    /// <summary>Even frames from <paramref name="a"/>, odd frames from <paramref name="b"/> (both [3, F, H, W]).</summary>
    private static Tensor Interleave(Tensor a, Tensor b)
    {
        var r = a.Clone();
        int f = a.Size(1), plane = a.Size(2) * a.Size(3);
        var d = r.Span;
        var s = b.Span;
        for (int c = 0; c < 3; c++)
            for (int t = 1; t < f; t += 2)
                s.Slice((c * f + t) * plane, plane).CopyTo(d.Slice((c * f + t) * plane, plane));
        return r;
    }
}
