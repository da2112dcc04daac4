using FlowGuide.Models.Video;
using FlowGuide.Models.Text;
using FlowGuide.Models.Wan;
using FlowGuide.Sampling;
using FlowGuide.Tensors;
using FlowGuide.Training.World;

namespace FlowGuide.Cli.Tests;

/// <summary>A throw-away model folder with random tiny weights (compact VAE 4x/4x, 4 latent channels, like the shipped model's; transformer width 24; text width 16).</summary>
internal static class TinyModel
{
    public static WanVaeConfig VaeConfig { get; } = WanVaeConfig.Tiny with { TemperalDownsample = new[] { true, true } };

    public static string Create(string dir)
    {
        var vocab = new Vocabulary(CaptionGrammar.Vocabulary);
        var text = new WordTextEncoder(WordTextEncoderConfig.Tiny with { MaxLength = 16 }, vocab, new Rng(1));
        var vae = new CompactVae(CompactVaeConfig.Tiny, new Rng(2));
        var dit = new WanTransformer3D(WanTransformerConfig.Tiny, new Rng(3));
        ShippedModel.Save(dir, dit, vae, text, new ModelDefaults { Frames = 5, Height = 16, Width = 16, Steps = 3, Fps = 8 });
        return dir;
    }
}
