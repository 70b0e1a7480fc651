"""The QC report of a render: ``vidswap report JOB_OR_OUTPUT``.

Made from a job's stored state, never by rendering again: the face pass's counts
(:data:`~vidswap.pipeline.qc.FACE_QC_FILE`), the render's measures per segment
(:func:`~vidswap.pipeline.qc.segment_qc_file`), ``job.json`` and the weights' records.
:mod:`.data` gathers them, :mod:`.markers` picks the frames to check (EDL, CSV), :mod:`.page`
writes the self-contained HTML page with its plots (:mod:`.plots`) and contact sheet
(:mod:`.sheet`). Only the command line imports this package.
"""
