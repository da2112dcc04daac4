using FlowGuide.Models.Wan;

namespace FlowGuide.Models.Tests.Wan;

public class WanTransformerConfigTests
{
    // transformer/config.json of Wan-AI/Wan2.1-T2V-1.3B-Diffusers (key set and values as published).
    private const string Diffusers13B = """
        {
          "_class_name": "WanTransformer3DModel",
          "_diffusers_version": "0.33.0.dev0",
          "added_kv_proj_dim": null,
          "attention_head_dim": 128,
          "cross_attn_norm": true,
          "eps": 1e-06,
          "ffn_dim": 8960,
          "freq_dim": 256,
          "image_dim": null,
          "in_channels": 16,
          "num_attention_heads": 12,
          "num_layers": 30,
          "out_channels": 16,
          "patch_size": [1, 2, 2],
          "pos_embed_seq_len": null,
          "qk_norm": "rms_norm_across_heads",
          "rope_max_seq_len": 1024,
          "text_dim": 4096
        }
        """;

    [Fact]
    public void DiffusersConfigLoadsAsThe13BPreset()
    {
        var c = WanTransformerConfig.FromJson(Diffusers13B);
        Assert.Equal(WanTransformerConfig.Wan21_1_3B, c);
        Assert.Equal(1536, c.Width);
        Assert.Equal(64, c.OutProjDim);
        var c14 = WanTransformerConfig.FromJson(Diffusers13B.Replace("\"num_attention_heads\": 12", "\"num_attention_heads\": 40")
            .Replace("8960", "13824").Replace("\"num_layers\": 30", "\"num_layers\": 40"));
        Assert.Equal(WanTransformerConfig.Wan21_14B, c14);
        Assert.Equal(5120, c14.Width);
    }

    [Fact]
    public void PresetsRoundTripThroughJson()
    {
        foreach (var c in new[] { WanTransformerConfig.Wan21_1_3B, WanTransformerConfig.Wan21_14B, WanTransformerConfig.Tiny, WanTransformerConfig.Small,
                     WanTransformerConfig.Tiny with { CrossAttnNorm = false, QkNorm = null, PatchSize = (2, 1, 3), Eps = 1e-5f } })
        {
            var json = c.ToJson();
            Assert.Equal(c, WanTransformerConfig.FromJson(json));
        }
        Assert.Contains("\"eps\": 1E-06", WanTransformerConfig.Tiny.ToJson());
        Assert.Contains("\"num_attention_heads\": 2", WanTransformerConfig.Tiny.ToJson());
    }

    [Fact]
    public void SmallPresetIsTheShippedModelShape()
    {
        var s = WanTransformerConfig.Small;
        Assert.Equal((256, 4, 64, 1024, 6, 256, 16, 16), (s.Width, s.NumHeads, s.HeadDim, s.FfnDim, s.NumLayers, s.TextDim, s.InChannels, s.OutChannels));
    }

    [Fact]
    public void BadConfigsNameTheKey()
    {
        var e = Assert.Throws<NotSupportedException>(() => WanTransformerConfig.FromJson(Diffusers13B.Replace("\"image_dim\": null", "\"image_dim\": 1280")));
        Assert.Contains("image_dim", e.Message);
        var f = Assert.Throws<FormatException>(() => WanTransformerConfig.FromJson(Diffusers13B.Replace("\"ffn_dim\": 8960", "\"ffn_dim\": \"big\"")));
        Assert.Contains("ffn_dim", f.Message);
        f = Assert.Throws<FormatException>(() => WanTransformerConfig.FromJson(Diffusers13B.Replace("[1, 2, 2]", "[1, 2]")));
        Assert.Contains("patch_size", f.Message);
        Assert.Throws<FormatException>(() => WanTransformerConfig.FromJson("[1, 2]"));
        var a = Assert.Throws<ArgumentException>(() => WanTransformerConfig.FromJson(Diffusers13B.Replace("\"attention_head_dim\": 128", "\"attention_head_dim\": 7")));
        Assert.Contains("attention_head_dim 7", a.Message);
        var n = Assert.Throws<NotSupportedException>(() => WanTransformerConfig.FromJson(Diffusers13B.Replace("rms_norm_across_heads", "layer_norm")));
        Assert.Contains("qk_norm", n.Message);
    }
}
