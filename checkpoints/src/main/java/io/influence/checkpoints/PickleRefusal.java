package io.influence.checkpoints;

import java.nio.file.Path;
import java.util.Locale;
import java.util.Set;

/**
 * PyTorch pickle checkpoints are never opened: unpickling runs arbitrary code chosen by whoever
 * wrote the file. This says so and how to convert them to safetensors.
 */
final class PickleRefusal {
    static final Set<String> PICKLE_SUFFIXES = Set.of(".bin", ".pt", ".pth", ".ckpt", ".pkl", ".pickle");

    private PickleRefusal() {
    }

    static boolean isPickleName(Path file) {
        Path name = file.getFileName();
        if (name == null) {
            return false;
        }
        String s = name.toString().toLowerCase(Locale.ROOT);
        for (String suffix : PICKLE_SUFFIXES) {
            if (s.endsWith(suffix)) {
                return true;
            }
        }
        return false;
    }

    static CheckpointFormatException refuse(Path file) {
        return new CheckpointFormatException(file, null,
                "is a PyTorch pickle checkpoint; it is not opened because loading a pickle can execute arbitrary code "
                        + "written into the file.",
                "convert it to safetensors once, in a sandbox you trust, e.g. "
                        + "python -c \"from safetensors.torch import save_file; import torch; "
                        + "save_file(torch.load('pytorch_model.bin', weights_only=True), 'model.safetensors')\" "
                        + "(tied weights may need .clone()), or with transformers: "
                        + "model.save_pretrained(dir, safe_serialization=True).");
    }
}
