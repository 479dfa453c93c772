"""Face real-name verification (人证核验): detection, landmarks, embedding, liveness, quality.

`engine` holds the one interface (`FaceEngine`) and its dlib implementation; everything
else (geometry, quality gate, liveness, portrait sources) works on its landmarks, so a
vendor SDK can replace the engine without touching flows. See docs/face.md.
"""
