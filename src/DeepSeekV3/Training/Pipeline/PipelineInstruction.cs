namespace DeepSeekV3.Training.Pipeline;

/// <summary>A chunk of work named by its direction (0 = a, 1 = b) and its micro-batch within that direction.</summary>
public readonly record struct PipelineChunk(int Direction, int MicroBatch);

/// <summary>
/// One entry of a rank's pipeline program: a forward, a backward (its weight gradients deferred or not), both
/// overlapped, or one deferred weight-gradient step. Written as the schedule's ops notation: <c>Fa0</c>, <c>Bb2</c>,
/// <c>Ba3z</c>, <c>[Fa3&amp;Bb1]</c>, <c>W</c>.
/// </summary>
public sealed record PipelineInstruction(PipelineChunk? Forward, PipelineChunk? Backward, bool DeferWeights, bool WeightStep)
{
    public static PipelineInstruction F(int direction, int microBatch) => new(new(direction, microBatch), null, false, false);
    public static PipelineInstruction B(int direction, int microBatch, bool deferWeights = false) => new(null, new(direction, microBatch), deferWeights, false);
    public static PipelineInstruction FB(PipelineChunk forward, PipelineChunk backward) => new(forward, backward, false, false);
    public static PipelineInstruction W { get; } = new(null, null, false, true);

    public override string ToString()
    {
        static string Name(char op, PipelineChunk c) => $"{op}{(char)('a' + c.Direction)}{c.MicroBatch}";
        return this switch
        {
            { WeightStep: true } => "W",
            { Forward: { } f, Backward: { } b } => $"[{Name('F', f)}&{Name('B', b)}]",
            { Forward: { } f } => Name('F', f),
            { Backward: { } b } => Name('B', b) + (DeferWeights ? "z" : ""),
            _ => "?",
        };
    }

    /// <summary>Parses one op of the notation above.</summary>
    public static PipelineInstruction Parse(string op)
    {
        static PipelineChunk Chunk(string s, char kind, string op) =>
            s.Length >= 3 && s[0] == kind && s[1] is 'a' or 'b' && int.TryParse(s.AsSpan(2), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int m)
                ? new PipelineChunk(s[1] - 'a', m)
                : throw new InvalidArgumentException($"pipeline op \"{op}\": expected F<a|b><n>, B<a|b><n>[z], [F..&B..] or W");
        if (op == "W") return W;
        if (op.StartsWith('[') && op.EndsWith(']') && op.Split('&') is [var f, var b])
            return FB(Chunk(f[1..], 'F', op), Chunk(b[..^1], 'B', op));
        if (op.StartsWith('B') && op.EndsWith('z'))
        {
            var c = Chunk(op[..^1], 'B', op);
            return B(c.Direction, c.MicroBatch, deferWeights: true);
        }
        return op.StartsWith('B') ? B(Chunk(op, 'B', op).Direction, Chunk(op, 'B', op).MicroBatch) : F(Chunk(op, 'F', op).Direction, Chunk(op, 'F', op).MicroBatch);
    }
}
