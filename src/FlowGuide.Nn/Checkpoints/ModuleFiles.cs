using FlowGuide.SafeTensors;
using FlowGuide.Tensors;

namespace FlowGuide.Nn;

/// <summary>Saving and loading a module's weights as safetensors, converting each tensor straight into its parameter.</summary>
public static class ModuleFiles
{
    /// <summary>
    /// Loads weights from a .safetensors file, a sharded <c>*.safetensors.index.json</c> or a folder holding either
    /// (diffusers layout). Tensors are converted from their stored dtype directly into the parameters' buffers.
    /// </summary>
    public static LoadReport LoadSafeTensors(this Module module, string path, bool strict = true)
    {
        using var reader = SafeTensorsCheckpoint.Open(path);
        return module.LoadFrom(reader, strict);
    }

    /// <summary>Loads from an open reader (see <see cref="LoadSafeTensors"/>); a strict mismatch names the file.</summary>
    public static LoadReport LoadFrom(this Module module, ISafeTensorsReader reader, bool strict = true, string? source = null)
    {
        try
        {
            return module.LoadStateDict(reader.Names, n => reader.GetInfo(n).Shape, reader.LoadInto, strict);
        }
        catch (StateDictMismatchException ex) when (source is not null)
        {
            throw new StateDictMismatchException($"{module.GetType().Name} from '{source}'", ex.Report);
        }
    }

    /// <summary>Writes parameters and buffers to one safetensors file (temporary file, then rename).</summary>
    public static void SaveSafeTensors(this Module module, string path, DType storeAs = DType.F32, IReadOnlyDictionary<string, string>? metadata = null) =>
        SafeTensorsWriter.Write(path, module.StateDict().OrderBy(kv => kv.Key, StringComparer.Ordinal), metadata, storeAs);
}
