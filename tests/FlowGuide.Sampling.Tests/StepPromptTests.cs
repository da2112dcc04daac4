using FlowGuide.Tensors;

namespace FlowGuide.Sampling.Tests;

/// <summary>A hook may replace the step's prompt embeddings: later hooks and the loop's model call use them, the next step starts from the run's.</summary>
public class StepPromptTests
{
    [Fact]
    public void ReplacedPromptIsUsedForTheRestOfTheStepOnly()
    {
        var (p, _) = Fakes.Pipeline();
        var log = new List<string>();
        Tensor cond;
        using (GradMode.NoGrad()) cond = Fakes.Encoder().Encode("a dog jumps");
        var prompts = new List<(int Step, string? Text, float[] Seen, float[] Run)>();
        var replace = new LoggingHook("r", log, StepWindow.Steps(1, 2))
        {
            Before = ctx => { ctx.PromptEmbeddings = cond; return null; },
        };
        var watch = new LoggingHook("w", log)
        {
            Before = ctx => { prompts.Add((ctx.Step, ctx.Prompt, ctx.PromptEmbeddings.ToArray(), ctx.RunPromptEmbeddings.ToArray())); return null; },
        };
        var replaced = p.Generate("a cat runs left", Fakes.Small(steps: 3), new IGuidanceHook[] { replace, watch });
        Assert.Equal(new[] { 0, 1, 2 }, prompts.Select(x => x.Step));
        Assert.All(prompts, x => Assert.Equal("a cat runs left", x.Text));
        Assert.Equal(prompts[0].Run, prompts[0].Seen);
        Assert.Equal(cond.ToArray(), prompts[1].Seen);     // replaced for step 1 ...
        Assert.Equal(prompts[2].Run, prompts[2].Seen);     // ... and back to the run's prompt at step 2
        Assert.NotEqual(p.Generate("a cat runs left", Fakes.Small(steps: 3)).Latent.ToArray(), replaced.Latent.ToArray());

        // a run from embeddings has no prompt text; a replacement of another shape is refused naming both shapes
        var bad = new LoggingHook("b", log) { Before = ctx => { Assert.Null(ctx.Prompt); ctx.PromptEmbeddings = Tensor.Zeros(1, 3, 16); return null; } };
        Tensor uncond;
        using (GradMode.NoGrad()) uncond = Fakes.Encoder().Encode("");
        var ex = Assert.Throws<ArgumentException>(() => p.GenerateFromEmbeddings(cond, uncond, Fakes.Small(steps: 1), new IGuidanceHook[] { bad }));
        Assert.Contains("[1, 3, 16]", ex.Message);
    }
}
