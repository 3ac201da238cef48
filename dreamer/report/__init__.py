"""``dream report``: a static site of a network seen through a folder of images.

- ``pages``: the HTML of each page (plain HTML and CSS, a little JavaScript to filter);
- ``files``: the image files (thumbnails, patches, renders, histograms), each kept once made;
- ``build``: ``build_report`` (the contract: see there) and ``ReportRequest``.
"""

from dreamer.report.build import ReportDone, ReportRequest, build_report

__all__ = ["ReportDone", "ReportRequest", "build_report"]
