using System.Buffers.Binary;
using FlowGuide.Tensors;

namespace FlowGuide.Models.Flow;

/// <summary>
/// Reading and writing optical flow files. The Middlebury .flo format: float32 tag 202021.25 ("PIEH"), int32 width,
/// int32 height, then width x height (u, v) float32 pairs, row-major, all little-endian; a component whose magnitude
/// exceeds 1e9 marks a pixel with unknown flow. Flows are tensors [1, 2, H, W] holding (u, v) in pixels.
/// </summary>
public static partial class FlowIO
{
    /// <summary>The .flo magic number, the bytes "PIEH" read as a little-endian float32.</summary>
    public const float FloTag = 202021.25f;

    /// <summary>Components above this magnitude mark unknown flow in .flo files.</summary>
    public const float UnknownThreshold = 1e9f;

    /// <summary>The value written for unknown components by <see cref="WriteFlo(string, Tensor, Tensor?)"/>.</summary>
    public const float UnknownValue = 1e10f;

    /// <summary>Largest width or height accepted from a file header (guards against corrupt headers).</summary>
    public const int MaxSide = 1 << 16;

    /// <summary>
    /// Reads a .flo file into a [1, 2, H, W] tensor. Unknown components (|value| &gt; 1e9) are kept as they are: pass the
    /// result to <see cref="FlowMetrics.ValidMask"/> to find them. Throws <see cref="InvalidDataException"/> for a wrong
    /// magic number, a non-positive or absurd size, or a file shorter (or longer) than its header promises.
    /// </summary>
    public static Tensor ReadFlo(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        using var stream = File.OpenRead(path);
        return ReadFlo(stream, path);
    }

    /// <summary>Reads .flo data from a stream; <paramref name="name"/> appears in error messages.</summary>
    public static Tensor ReadFlo(Stream stream, string name = "stream")
    {
        ArgumentNullException.ThrowIfNull(stream);
        Span<byte> header = stackalloc byte[12];
        int got = ReadFully(stream, header);
        if (got < 12)
            throw new InvalidDataException($"ReadFlo: {name} is truncated: {got} bytes, a .flo header needs 12 (tag, width, height).");
        float tag = BinaryPrimitives.ReadSingleLittleEndian(header);
        if (tag != FloTag)
            throw new InvalidDataException($"ReadFlo: {name} does not start with the .flo tag 202021.25 ('PIEH'); found {tag} (bytes {Convert.ToHexString(header[..4])}).");
        int w = BinaryPrimitives.ReadInt32LittleEndian(header[4..]);
        int h = BinaryPrimitives.ReadInt32LittleEndian(header[8..]);
        if (w < 1 || h < 1 || w > MaxSide || h > MaxSide)
            throw new InvalidDataException($"ReadFlo: {name} declares a {w}x{h} flow; expected width and height in [1, {MaxSide}].");
        long need = 8L * w * h;
        if (stream.CanSeek)
        {
            long left = stream.Length - stream.Position;
            if (left < need)
                throw new InvalidDataException($"ReadFlo: {name} is truncated: a {w}x{h} flow needs {need} bytes of data after the header, the file has {left}.");
            if (left > need)
                throw new InvalidDataException($"ReadFlo: {name} has {left - need} bytes after the {w}x{h} flow data; expected exactly {need}.");
        }
        var bytes = new byte[need];
        got = ReadFully(stream, bytes);
        if (got < need)
            throw new InvalidDataException($"ReadFlo: {name} is truncated: a {w}x{h} flow needs {need} bytes of data after the header, got {got}.");
        var t = Tensor.Empty(1, 2, h, w);
        var d = t.Span;
        int plane = w * h;
        for (int i = 0; i < plane; i++)
        {
            d[i] = BinaryPrimitives.ReadSingleLittleEndian(bytes.AsSpan(8 * i));
            d[plane + i] = BinaryPrimitives.ReadSingleLittleEndian(bytes.AsSpan(8 * i + 4));
        }
        return t;
    }

    /// <summary>
    /// Writes a flow [1, 2, H, W] (or [2, H, W]) as .flo, through a temporary file renamed into place. Where
    /// <paramref name="valid"/> ([1, 1, H, W] or [H, W], non-zero = known) is 0, both components are written as
    /// <see cref="UnknownValue"/>.
    /// </summary>
    public static void WriteFlo(string path, Tensor flow, Tensor? valid = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        CheckFlow("WriteFlo", flow, valid);
        string tmp = path + ".tmp" + Environment.ProcessId;
        try
        {
            using (var f = File.Create(tmp)) WriteFlo(f, flow, valid);
            File.Move(tmp, path, overwrite: true);
        }
        finally
        {
            if (File.Exists(tmp)) File.Delete(tmp);
        }
    }

    /// <summary>Writes .flo data to a stream (see <see cref="WriteFlo(string, Tensor, Tensor?)"/>).</summary>
    public static void WriteFlo(Stream stream, Tensor flow, Tensor? valid = null)
    {
        ArgumentNullException.ThrowIfNull(stream);
        var (h, w) = CheckFlow("WriteFlo", flow, valid);
        var d = flow.Span;
        var m = valid is null ? default : valid.Span;
        int plane = w * h;
        var bytes = new byte[12 + 8L * plane];
        BinaryPrimitives.WriteSingleLittleEndian(bytes, FloTag);
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(4), w);
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(8), h);
        for (int i = 0; i < plane; i++)
        {
            bool known = m.IsEmpty || m[i] != 0;
            BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(12 + 8 * i), known ? d[i] : UnknownValue);
            BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(16 + 8 * i), known ? d[plane + i] : UnknownValue);
        }
        stream.Write(bytes);
    }

    /// <summary>Checks a flow [1, 2, H, W] or [2, H, W] and an optional mask of H x W elements; returns (H, W).</summary>
    internal static (int H, int W) CheckFlow(string op, Tensor flow, Tensor? valid)
    {
        ArgumentNullException.ThrowIfNull(flow);
        bool ok = (flow.Rank == 4 && flow.Size(0) == 1 && flow.Size(1) == 2) || (flow.Rank == 3 && flow.Size(0) == 2);
        if (!ok) throw new ArgumentException($"{op}: flow has shape {flow.Shape}, expected [1, 2, H, W] or [2, H, W] holding (u, v).");
        int h = flow.Size(flow.Rank - 2), w = flow.Size(flow.Rank - 1);
        if (h < 1 || w < 1) throw new ArgumentException($"{op}: flow {flow.Shape} is empty.");
        if (valid is not null && valid.Numel != h * w)
            throw new ArgumentException($"{op}: valid mask has shape {valid.Shape} ({valid.Numel} elements), expected {h}x{w} = {h * w} ([1, 1, H, W] or [H, W]).");
        return (h, w);
    }

    private static int ReadFully(Stream s, Span<byte> buffer)
    {
        int total = 0;
        while (total < buffer.Length)
        {
            int r = s.Read(buffer[total..]);
            if (r == 0) break;
            total += r;
        }
        return total;
    }
}
