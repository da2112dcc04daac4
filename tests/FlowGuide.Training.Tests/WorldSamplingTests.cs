using FlowGuide.Training.World;

namespace FlowGuide.Training.Tests;

/// <summary>Splits, held-out combinations, captions and the vocabulary.</summary>
public class WorldSamplingTests
{
    private static readonly Lazy<ClipSpec[]> TrainSpecs = new(() =>
        Enumerable.Range(0, 6000).Select(i => MotionWorld.Sample(i, WorldSplit.Train)).ToArray());

    private static readonly Lazy<ClipSpec[]> HeldOutSpecs = new(() =>
        Enumerable.Range(0, 1500).Select(i => MotionWorld.Sample(i, WorldSplit.HeldOut)).ToArray());

    private static (ShapeKind, ColorName, MotionClass) Triple(ShapeSpec s) => (s.Kind, s.Color, CaptionGrammar.ClassOf(s));

    [Fact]
    public void TrainValidationAndTestNeverShowAHeldOutTriple()
    {
        Assert.DoesNotContain(TrainSpecs.Value, MotionWorld.ContainsHeldOut);
        for (int i = 0; i < 1500; i++)
        {
            Assert.False(MotionWorld.ContainsHeldOut(MotionWorld.Sample(i, WorldSplit.Validation)));
            Assert.False(MotionWorld.ContainsHeldOut(MotionWorld.Sample(i, WorldSplit.Test)));
        }
    }

    [Fact]
    public void HeldOutClipsHaveAHeldOutSubjectAndCoverEveryHeldOutTriple()
    {
        var seen = new HashSet<(ShapeKind, ColorName, MotionClass)>();
        foreach (var spec in HeldOutSpecs.Value)
        {
            var subject = Triple(spec.Shapes[spec.Subject]);
            Assert.True(MotionWorld.IsHeldOut(subject.Item1, subject.Item2, subject.Item3));
            seen.Add(subject);
            for (int i = 0; i < spec.Shapes.Count; i++)
                if (i != spec.Subject) Assert.False(MotionWorld.IsHeldOut(spec.Shapes[i].Kind, spec.Shapes[i].Color, CaptionGrammar.ClassOf(spec.Shapes[i])));
        }
        Assert.Equal(48, MotionWorld.HeldOutCombos.Count);
        Assert.Equal(48, MotionWorld.HeldOutCombos.Distinct().Count());
        Assert.Equal(MotionWorld.HeldOutCombos.ToHashSet(), seen);
    }

    [Fact]
    public void TrainingStillSeesEveryPairThatAHeldOutTripleIsMadeOf()
    {
        var subjects = TrainSpecs.Value.Select(s => Triple(s.Shapes[s.Subject])).ToArray();
        foreach (var (shape, color, motion) in MotionWorld.HeldOutCombos)
        {
            Assert.Contains(subjects, s => s.Item1 == shape && s.Item2 == color);
            Assert.Contains(subjects, s => s.Item1 == shape && s.Item3 == motion);
            Assert.Contains(subjects, s => s.Item2 == color && s.Item3 == motion);
        }
    }

    [Fact]
    public void SplitsOwnDisjointSeedRanges()
    {
        foreach (var split in Enum.GetValues<WorldSplit>())
        {
            var spec = MotionWorld.Sample(123, split);
            Assert.Equal(split, MotionWorld.SplitOfSeed(spec.Seed));
            Assert.Equal(MotionWorld.SeedOf(123, split), spec.Seed);
            Assert.Equal(spec, MotionWorld.Sample(123, split)); // deterministic
        }
        Assert.NotEqual(MotionWorld.Sample(0, WorldSplit.Train), MotionWorld.Sample(1, WorldSplit.Train));
        Assert.NotEqual(MotionWorld.Sample(0, WorldSplit.Train).ToJson(), MotionWorld.Sample(0, WorldSplit.Validation).ToJson());
    }

    [Fact]
    public void CaptionsFollowTheGrammar()
    {
        ShapeSpec S(ShapeKind k, ColorName c, MotionSpec m, SizeClass size = SizeClass.Medium) =>
            new() { Kind = k, Color = c, Size = size, CenterX = 0.5, CenterY = 0.5, Motion = m };
        var left = new MotionSpec { Kind = MotionKind.Linear, VelocityX = -0.02 };
        var striped = new BackgroundSpec { Kind = BackgroundKind.Striped, ToneA = Rgb.Gray(0.1), ToneB = Rgb.Gray(0.4) };
        Assert.Equal("a red circle slowly moves left across a striped background",
            CaptionGrammar.Describe(new ClipSpec { Background = striped, Shapes = new[] { S(ShapeKind.Circle, ColorName.Red, left) } }));
        Assert.Equal("a small blue star quickly orbits clockwise over a plain black background",
            CaptionGrammar.Describe(new ClipSpec
            {
                Shapes = new[] { S(ShapeKind.Star, ColorName.Blue, new MotionSpec { Kind = MotionKind.Orbit, AngularVelocity = 0.3, Speed = Speed.Fast }, SizeClass.Small) },
            }));
        Assert.Equal("a green square slowly grows on a checkered background",
            CaptionGrammar.Describe(new ClipSpec
            {
                Background = striped with { Kind = BackgroundKind.Checkered },
                Shapes = new[] { S(ShapeKind.Square, ColorName.Green, new MotionSpec { Kind = MotionKind.Grow, ScaleRate = 0.05 }) },
            }));
        Assert.Equal("the camera quickly pans right over a yellow triangle on a plain gray background",
            CaptionGrammar.Describe(new ClipSpec
            {
                Background = BackgroundSpec.Plain(ColorName.Gray),
                Pan = new CameraPan { VelocityX = 0.02, Speed = Speed.Fast },
                Shapes = new[] { S(ShapeKind.Triangle, ColorName.Yellow, MotionSpec.Still) },
            }));
        Assert.Equal("an orange diamond slowly moves up and left past a large white ring and a cyan star across a gradient background",
            CaptionGrammar.Describe(new ClipSpec
            {
                Background = striped with { Kind = BackgroundKind.Gradient },
                Shapes = new[]
                {
                    S(ShapeKind.Ring, ColorName.White, MotionSpec.Still, SizeClass.Large),
                    S(ShapeKind.Diamond, ColorName.Orange, new MotionSpec { Kind = MotionKind.Linear, VelocityX = -0.01, VelocityY = -0.012 }),
                    S(ShapeKind.Star, ColorName.Cyan, MotionSpec.Still),
                },
                Subject = 1,
            }));
    }

    [Fact]
    public void CaptionsNameTheSubjectsColourShapeAndMotion()
    {
        foreach (var spec in TrainSpecs.Value.Take(3000).Concat(HeldOutSpecs.Value.Take(500)))
        {
            string caption = CaptionGrammar.Describe(spec);
            var subject = spec.Shapes[spec.Subject];
            Assert.Contains($"{subject.Color.Word()} {subject.Kind.Word()}", caption);
            if (spec.Pan is { } pan)
            {
                Assert.StartsWith("the camera ", caption);
                Assert.Contains($" pans {CaptionGrammar.DirectionOf(pan.VelocityX, pan.VelocityY).Words()} over ", caption);
            }
            else
            {
                var motion = CaptionGrammar.ClassOf(subject);
                Assert.Contains($"{subject.Kind.Word()} {(motion == MotionClass.Still ? "" : subject.Motion.Speed == Speed.Fast ? "quickly " : "slowly ")}{motion.VerbPhrase()}", caption);
            }
            if (spec.Background.Kind == BackgroundKind.Plain) Assert.EndsWith($"plain {spec.Background.Color.Word()} background", caption);
            foreach (var other in spec.Shapes) Assert.Contains($"{other.Color.Word()} {other.Kind.Word()}", caption);
        }
    }

    [Fact]
    public void CaptionDirectionsMatchTheRenderedMotion()
    {
        // the subject's mask centroid moves the way the caption says (the opposite way for a camera pan)
        int checkedClips = 0;
        for (int i = 0; checkedClips < 30 && i < 2000; i++)
        {
            var spec = MotionWorld.Sample(i, WorldSplit.Train, frames: 5, width: 48, height: 48); // motions span the clip whatever its length
            var subject = spec.Shapes[spec.Subject];
            var motion = CaptionGrammar.ClassOf(subject);
            if (spec.Pan is null && motion > MotionClass.MoveDownRight) continue;
            var clip = MotionWorld.Render(spec);
            int last = spec.Frames - 1;
            var (x0, y0, n0) = Centroid(clip, 0, spec.Subject);
            var (x1, y1, n1) = Centroid(clip, last, spec.Subject);
            if (n0 < 20 || n1 < 20 || Math.Abs(n0 - n1) > 0.1 * n0) continue; // partly hidden or clipped: the centroid lies
            var expected = spec.Pan is { } pan
                ? CaptionGrammar.DirectionOf(-pan.VelocityX, -pan.VelocityY)
                : (Direction)(int)motion;
            Assert.Equal(expected, CaptionGrammar.DirectionOf(x1 - x0, y1 - y0));
            Assert.Contains(spec.Pan is null ? $"moves {expected.Words()}" : "pans", clip.Caption);
            checkedClips++;
        }
        Assert.Equal(30, checkedClips);
    }

    [Fact]
    public void StraightMovingSubjectsCrossTheFrameCentre()
    {
        // world 2: the subject passes near the centre along its heading, so it starts behind the centre and ends past it
        int seen = 0;
        for (int i = 0; seen < 200 && i < 5000; i++)
        {
            var spec = MotionWorld.Sample(i, WorldSplit.Train, frames: 17, width: 64, height: 64);
            var subject = spec.Shapes[spec.Subject];
            if (subject.Motion.Kind != MotionKind.Linear) continue;
            double speed = Math.Sqrt(subject.Motion.VelocityX * subject.Motion.VelocityX + subject.Motion.VelocityY * subject.Motion.VelocityY);
            double ux = subject.Motion.VelocityX / speed, uy = subject.Motion.VelocityY / speed;
            double Along(double t)
            {
                var (x, y) = Kinematics.WorldCenter(spec, subject, t);
                return (x - 0.5) * ux + (y - 0.5) * uy; // aspect 1: the centre is (0.5, 0.5)
            }
            double Across(double t)
            {
                var (x, y) = Kinematics.WorldCenter(spec, subject, t);
                return -(x - 0.5) * uy + (y - 0.5) * ux;
            }
            Assert.InRange(Along(8), -SpecSampler.SubjectAlongJitter - 1e-9, SpecSampler.SubjectAlongJitter + 1e-9);
            Assert.InRange(Across(8), -SpecSampler.SubjectAcrossJitter - 1e-9, SpecSampler.SubjectAcrossJitter + 1e-9);
            Assert.True(Along(0) < -0.05 && Along(16) > 0.05, $"clip {i}: along the heading {Along(0):F3} -> {Along(16):F3}");
            seen++;
        }
        Assert.Equal(200, seen);
    }

    private static (double X, double Y, int Count) Centroid(WorldClip clip, int t, int shape)
    {
        double sx = 0, sy = 0;
        int n = 0;
        for (int y = 0; y < clip.Height; y++)
        for (int x = 0; x < clip.Width; x++)
            if (WorldTestUtil.Id(clip, t, y, x) == shape + 1) { sx += x; sy += y; n++; }
        return n == 0 ? (0, 0, 0) : (sx / n, sy / n, n);
    }

    [Fact]
    public void TheVocabularyIsExactlyTheWordsCaptionsUse()
    {
        var used = new HashSet<string>();
        foreach (var spec in TrainSpecs.Value.Concat(HeldOutSpecs.Value))
            used.UnionWith(CaptionGrammar.Tokenize(CaptionGrammar.Describe(spec)));
        var vocabulary = CaptionGrammar.Vocabulary;
        Assert.Equal(vocabulary.Count, vocabulary.Distinct().Count());
        Assert.Empty(used.Except(vocabulary));
        Assert.Empty(vocabulary.Except(used));
        Assert.Equal(vocabulary.OrderBy(w => w, StringComparer.Ordinal), vocabulary);

        string path = Path.Combine(Path.GetTempPath(), $"flowguide-vocab-{Environment.ProcessId}.txt");
        try
        {
            CaptionGrammar.WriteVocabulary(path);
            Assert.Equal(vocabulary, File.ReadAllLines(path));
            Assert.False(File.Exists(path + ".tmp"));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void SampledClipsVaryOverEveryAxis()
    {
        var specs = TrainSpecs.Value.Take(2000).ToArray();
        Assert.Equal(Enum.GetValues<ShapeKind>().Length, specs.Select(s => s.Shapes[s.Subject].Kind).Distinct().Count());
        Assert.Equal(Palette.ShapeColorCount, specs.Select(s => s.Shapes[s.Subject].Color).Distinct().Count());
        Assert.Equal(16, specs.Select(s => CaptionGrammar.ClassOf(s.Shapes[s.Subject])).Distinct().Count());
        Assert.Equal(5, specs.Select(s => s.Background.Kind).Distinct().Count());
        Assert.Equal(new[] { 1, 2, 3 }, specs.Select(s => s.Shapes.Count).Distinct().Order());
        Assert.Equal(8, specs.Where(s => s.Pan is not null).Select(s => CaptionGrammar.DirectionOf(s.Pan!.VelocityX, s.Pan.VelocityY)).Distinct().Count());
        Assert.InRange(specs.Count(s => s.Pan is not null), 200, 400);
        // every clip's shapes have distinct colours, and plain backgrounds contrast with all of them
        foreach (var s in specs)
        {
            Assert.Equal(s.Shapes.Count, s.Shapes.Select(x => x.Color).Distinct().Count());
            if (s.Background.Kind == BackgroundKind.Plain)
                Assert.All(s.Shapes, x => Assert.True(x.Color.ToRgb().DistanceTo(s.Background.Color.ToRgb()) >= Palette.MinContrast));
        }
    }
}
