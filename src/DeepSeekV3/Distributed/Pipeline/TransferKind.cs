namespace DeepSeekV3.Distributed.Pipeline;

/// <summary>What a point-to-point transfer carries and which end this rank is.</summary>
public enum TransferKind
{
    /// <summary>A stage output (the next stage's input) going down its direction.</summary>
    SendActivation,

    /// <summary>This stage's input, from the previous stage of its direction.</summary>
    ReceiveActivation,

    /// <summary>The gradient of this stage's input, going back to the previous stage.</summary>
    SendGradient,

    /// <summary>The gradient of this stage's output, from the next stage.</summary>
    ReceiveGradient,
}
